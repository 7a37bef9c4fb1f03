// Writes docs/provider.md (the provider's resource reference) from provider/schema.ts.
import * as fs from "fs";
import * as path from "path";
import { RESOURCES } from "../../provider/schema";
import { renderProviderReference } from "../../provider/schema-docs";
import { projectRoot } from "../common/project-root";

const file = path.join(projectRoot(), "docs", "provider.md");
fs.writeFileSync(file, renderProviderReference(RESOURCES));
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
