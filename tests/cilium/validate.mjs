// Validates Cilium policies with @kubernetes-models/cilium, whose validators are compiled from
// Cilium's API types (github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2) and their validation
// rules: enums, patterns, ranges, required fields, list sizes.
// Usage: node validate.mjs FILE.json, where FILE.json holds [{"name": ..., "document": {...}}, ...].
// Prints one line per refused document and exits 1 if any is refused.
import { readFileSync } from "node:fs";
import { CiliumClusterwideNetworkPolicy } from "@kubernetes-models/cilium/cilium.io/v2/CiliumClusterwideNetworkPolicy";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
let refused = 0;
for (const { name, document } of cases) {
  try {
    new CiliumClusterwideNetworkPolicy(document).validate();
  } catch (error) {
    refused += 1;
    console.log(`${name}: ${error.message}`);
  }
}
console.log(`${cases.length - refused} accepted, ${refused} refused`);
process.exit(refused === 0 ? 0 : 1);
