import t from 'tap';
import fc from 'fast-check';
import { RttEstimator } from '../../../shared/tcp/rtt.js';

t.test('before any sample the RTO is the initial 1 s', async (t) => {
  const e = new RttEstimator();
  t.equal(e.rto, 1000);
  t.equal(e.srtt, undefined);
  t.equal(e.rttvar, undefined);
  t.equal(e.backoffCount, 0);
});

t.test('the first sample sets SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR', async (t) => {
  const e = new RttEstimator();
  e.sample(100);
  t.equal(e.srtt, 100);
  t.equal(e.rttvar, 50);
  t.equal(e.rto, 300);
});

t.test('a later sample updates RTTVAR from the old SRTT, then SRTT', async (t) => {
  const e = new RttEstimator();
  e.sample(100);
  e.sample(180);
  // RTTVAR = 3/4*50 + 1/4*|100-180| = 57.5; SRTT = 7/8*100 + 1/8*180 = 110
  t.equal(e.rttvar, 57.5);
  t.equal(e.srtt, 110);
  t.equal(e.rto, 110 + 4 * 57.5);
});

t.test('the RTO never goes below minRto', async (t) => {
  const e = new RttEstimator();
  e.sample(1);
  t.equal(e.rto, 200);
});

t.test('the clock granularity G bounds the variance term from below', async (t) => {
  const e = new RttEstimator({ minRto: 1 });
  for (let i = 0; i < 200; i++) e.sample(500);
  // RTTVAR decays towards 0; RTO = SRTT + max(G, K*RTTVAR) -> 500 + 1
  t.ok(e.rto >= 501);
  t.ok(e.rto < 502);
});

t.test('the RTO never exceeds maxRto', async (t) => {
  const e = new RttEstimator({ maxRto: 60_000 });
  e.sample(50_000);
  t.equal(e.rto, 60_000);
});

t.test('backoff doubles the RTO', async (t) => {
  const e = new RttEstimator();
  e.backoff();
  t.equal(e.rto, 2000);
  e.backoff();
  t.equal(e.rto, 4000);
  t.equal(e.backoffCount, 2);
});

t.test('backoff clamps at maxRto and keeps counting', async (t) => {
  const e = new RttEstimator({ maxRto: 5000 });
  for (let i = 0; i < 2000; i++) e.backoff();
  t.equal(e.rto, 5000);
  t.equal(e.backoffCount, 2000);
});

t.test('a sample ends the backoff', async (t) => {
  const e = new RttEstimator();
  e.sample(100);
  e.backoff();
  e.backoff();
  t.equal(e.rto, 1200);
  e.sample(100);
  t.equal(e.backoffCount, 0);
  t.ok(e.rto < 1200);
});

t.test('resetBackoff ends the backoff without changing the estimate', async (t) => {
  const e = new RttEstimator();
  e.sample(100);
  e.backoff();
  e.resetBackoff();
  t.equal(e.rto, 300);
  t.equal(e.srtt, 100);
});

t.test('a negative or non-finite sample is ignored', async (t) => {
  const e = new RttEstimator();
  e.sample(100);
  e.sample(-5);
  e.sample(NaN);
  e.sample(Infinity);
  t.equal(e.srtt, 100);
  t.equal(e.rttvar, 50);
});

t.test('a zero sample is valid (sub-millisecond LAN)', async (t) => {
  const e = new RttEstimator();
  e.sample(0);
  t.equal(e.srtt, 0);
  t.equal(e.rto, 200);
});

t.test('bad options throw ERR_INTACT_INVALID_ARG', async (t) => {
  t.throws(() => new RttEstimator({ minRto: -1 }), { code: 'ERR_INTACT_INVALID_ARG' });
  t.throws(() => new RttEstimator({ minRto: 5000, maxRto: 1000 }), { code: 'ERR_INTACT_INVALID_ARG' });
  t.throws(() => new RttEstimator({ initialRto: NaN }), { code: 'ERR_INTACT_INVALID_ARG', message: /initialRto must be a positive number, got NaN/ });
  t.throws(() => new RttEstimator({ maxRto: 0 }), { code: 'ERR_INTACT_INVALID_ARG', message: /maxRto must be a positive number, got 0/ });
});

t.test('snapshot and restore give the same estimator', async (t) => {
  const e = new RttEstimator();
  e.sample(80);
  e.sample(120);
  e.backoff();
  const r = RttEstimator.restore(JSON.parse(JSON.stringify(e.snapshot())));
  t.equal(r.srtt, e.srtt);
  t.equal(r.rttvar, e.rttvar);
  t.equal(r.rto, e.rto);
  t.equal(r.backoffCount, 1);
  r.sample(100);
  e.sample(100);
  t.equal(r.rto, e.rto);
});

t.test('restore without a sample keeps the backed-off RTO', async (t) => {
  const e = new RttEstimator();
  e.backoff();
  e.backoff();
  const r = RttEstimator.restore(e.snapshot());
  t.equal(r.rto, 4000);
  t.equal(r.srtt, undefined);
  r.backoff();
  t.equal(r.rto, 8000);
});

t.test('restore ignores a corrupt snapshot field', async (t) => {
  const r = RttEstimator.restore({ rto: 1000, backoffCount: -3, srtt: NaN, rttvar: 1 });
  t.equal(r.backoffCount, 0);
  t.equal(r.rto, 1000);
  t.equal(r.srtt, undefined);
});

t.test('the RTO stays within [minRto, maxRto] under any samples and backoffs', async () => {
  fc.assert(fc.property(
    fc.array(fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: false }), fc.constant(-1)), { maxLength: 50 }),
    fc.nat({ max: 100 }),
    (samples, backoffs) => {
      const e = new RttEstimator({ minRto: 200, maxRto: 120_000 });
      for (const s of samples) e.sample(s);
      for (let i = 0; i < backoffs; i++) e.backoff();
      return e.rto >= 200 && e.rto <= 120_000;
    },
  ));
});
