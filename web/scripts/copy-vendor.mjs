// Copies the files the pages load from node_modules into server/web/static/vendor/ (git-ignored).
// Run by `make web` after `npm ci`; the server refuses to serve the pages that need them until then.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, "..");
const vendor = join(web, "..", "server", "web", "static", "vendor");

// package -> files to copy (from the package's folder, to vendor/<package>/<basename>)
const FILES = {
  uplot: ["dist/uPlot.esm.js", "dist/uPlot.min.css", "LICENSE"],
  // /api/docs: Swagger UI served from here, never from a CDN (halls are offline).
  "swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"],
};

rmSync(vendor, { recursive: true, force: true });
const versions = {};
for (const [name, files] of Object.entries(FILES)) {
  const pkgDir = join(web, "node_modules", name);
  versions[name] = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
  mkdirSync(join(vendor, name), { recursive: true });
  for (const file of files) {
    copyFileSync(join(pkgDir, file), join(vendor, name, file.split("/").pop()));
  }
}
writeFileSync(join(vendor, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`vendor: ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(", ")} -> ${vendor}`);
