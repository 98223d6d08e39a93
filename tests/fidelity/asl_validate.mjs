// AWS's own Amazon States Language validation (npm amazon-states-language-service, test-only).
// stdin: {name: definition JSON text}; stdout: {name: [{severity, message, line, character}]}
import asl from 'amazon-states-language-service'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const definitions = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const service = asl.getLanguageService({})
const results = {}
for (const [name, text] of Object.entries(definitions)) {
  const document = asl.TextDocument.create(`${name}.asl.json`, 'json', 0, text)
  const parsed = service.parseJSONDocument(document)
  const diagnostics = await service.doValidation(document, parsed, { comments: 'error', trailingCommas: 'error' })
  results[name] = diagnostics.map((d) => ({
    severity: d.severity,
    message: d.message,
    line: d.range.start.line + 1,
    character: d.range.start.character + 1,
  }))
}
process.stdout.write(JSON.stringify(results))
