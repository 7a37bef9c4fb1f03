// Imported FIRST by every entry point (tools/*/main.ts, lab/cli.ts): imports are evaluated in order, so when the command
// line asks for help this prints the entry's usage and exits 0 here, before the entry's own imports (the engine SDK,
// the lab, SSH, the model) load. Nothing is set up and nothing is written. Imported by anything else (a test), or
// without --help, it does nothing.
import * as path from "path";
import { USAGE_BY_ENTRY, wantsHelp } from "./usage";

const main = require.main?.filename;
const entry = main ? path.relative(path.resolve(__dirname, "..", ".."), main).replace(/\.[cm]?[jt]s$/, "") : "";
const usage = USAGE_BY_ENTRY[entry];
if (usage !== undefined && wantsHelp(process.argv.slice(2))) {
    process.stdout.write(usage.endsWith("\n") ? usage : `${usage}\n`);
    process.exit(0);
}
