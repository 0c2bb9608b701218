// Every scenario `intact scenario <name>` knows: importing a definition registers it.
// Add a scenario by adding its module here.
import './takeover-vs-data.js';
import './takeover-vs-connections.js';
import './detection.js';
import './setup.js';
import './overhead-rr.js';
import './throughput.js';
import './kick.js';

export { scenarioNames, findScenario, runScenario } from '../scenario.js';
