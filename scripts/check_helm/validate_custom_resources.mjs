// Validates the cert-manager and Prometheus Operator resources validate.py set aside
// (argument: its JSON file) against their CRD models (@kubernetes-models).
// Fed to `node --input-type=module -` in the tools' npm directory, where the CRD models
// resolve (run as a file, it would look for them beside itself instead).
import { readFileSync } from "node:fs";
const models = {
  "cert-manager.io/v1/Certificate": (await import("@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate")).Certificate,
  "cert-manager.io/v1/Issuer": (await import("@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer")).Issuer,
  "monitoring.coreos.com/v1/ServiceMonitor": (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor")).ServiceMonitor,
};
let failed = 0;
const resources = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const { what, doc } of resources) {
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) {
    console.error(`check-helm: ${what}: no model for ${doc.apiVersion} ${doc.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (error) {
    console.error(`check-helm: ${what}: ${error.message}`);
    failed++;
  }
}
console.error(`check-helm: ${resources.length} cert-manager and ServiceMonitor resources checked against their CRD models`);
process.exit(failed ? 1 : 0);
