// Preloaded (node -r) before CDK's custom-resource handler: its CloudFormation response goes out through
// https.request to a host and no port (CloudFormation's pre-signed S3 URL). The test's stub is plain HTTP
// on 127.0.0.1, so this sends the same request, unchanged, to the stub instead.
const http = require("http");
const https = require("https");

const stubPort = Number(process.env.CFN_RESPONSE_STUB_PORT);
https.request = (options, callback) => http.request({ ...options, hostname: "127.0.0.1", port: stubPort }, callback);
