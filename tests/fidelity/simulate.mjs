// Evaluates IAM requests with @cloud-copilot/iam-simulate (test-only, AGPL-3.0).
// stdin: {"policies": {name: document}, "requests": [{principal, action, resource, resourceAccount,
//          context, identityPolicies: [name], resourcePolicy: name|null, boundary: name|null}]}
// stdout: [{decision: "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|"Error", errors, allows, denies}]
// where allows/denies name the statements (by the Sid the caller set) and the action and resource
// patterns of theirs that matched.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function matched(statements) {
  return statements.map((s) => ({
    sid: s.explain?.identifier ?? s.statement?.Sid,
    actions: asList(s.explain?.actions).filter((a) => a.matches).map((a) => a.action),
    resources: asList(s.explain?.resources).filter((r) => r.matches).map((r) => r.resource),
  }))
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { policies, requests } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const request of requests) {
  const simulation = {
    identityPolicies: request.identityPolicies.map((name) => ({ name, policy: policies[name] })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ? policies[request.resourcePolicy] : undefined,
    permissionBoundaryPolicies: request.boundary
      ? [{ name: request.boundary, policy: policies[request.boundary] }]
      : undefined,
    request: {
      action: request.action,
      principal: request.principal,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context,
    },
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    results.push({ decision: 'Error', errors: response.errors })
    continue
  }
  const analysis = response.result?.analysis ?? response.results?.[0]?.analysis ?? {}
  const allows = [
    ...matched(analysis.identityAnalysis?.allowStatements ?? []),
    ...matched(analysis.resourceAnalysis?.allowStatements ?? []),
  ]
  const denies = [
    ...matched(analysis.identityAnalysis?.denyStatements ?? []),
    ...matched(analysis.resourceAnalysis?.denyStatements ?? []),
  ]
  results.push({ decision: response.overallResult, allows, denies })
}
process.stdout.write(JSON.stringify(results))
