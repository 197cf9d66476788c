// Runs a CDK Node.js custom-resource handler on one CloudFormation event: node -r ./respond-to-local-stub.js
// invoke.js <handler index.js> <event.json>. Exits non-zero if the handler's promise rejects.
const fs = require("fs");
const path = require("path");

const [handlerPath, eventPath] = process.argv.slice(2);
const { handler } = require(path.resolve(handlerPath));
handler(JSON.parse(fs.readFileSync(eventPath, "utf8")), {}).catch((error) => {
  console.error(error);
  process.exit(1);
});
