// The resource reference in docs/provider.md, generated from the schema (`npm run provider-docs`);
// a unit test fails when the committed file and the schema drift apart.
import type { PropSpec, Props, ResourceSpec } from "./schema-types";
import { describeBounds } from "./schema-types";

function typeName(p: PropSpec): string {
    if (p.type === "array") return `${typeName(p.items)}[]`;
    if (p.type === "object") return p.token.split(":").pop() ?? p.token;
    return p.type;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(props: Props, required: readonly string[]): string[] {
    const rows = ["| property | type | required | secret | description |", "|---|---|---|---|---|"];
    for (const [k, p] of Object.entries(props)) {
        const secret = "secret" in p && p.secret ? "yes" : "";
        rows.push(
            `| \`${k}\` | ${typeName(p)} | ${required.includes(k) ? "yes" : ""} | ${secret} | ${cell(describeBounds(p))} |`,
        );
    }
    return rows;
}

function objectTypes(props: Props, seen: Map<string, PropSpec & { type: "object" }>): void {
    for (const p of Object.values(props)) {
        const o = p.type === "array" ? p.items : p;
        if (o.type === "object" && !seen.has(o.token)) {
            seen.set(o.token, o);
            objectTypes(o.properties, seen);
        }
    }
}

export function renderProviderReference(resources: readonly ResourceSpec[]): string {
    const out = [
        "# pinhole provider: resource reference",
        "",
        "Generated from provider/schema.ts by `npm run provider-docs` (do not edit by hand; a unit test checks it).",
        "The same schema is what `npm run pulumi -- package get-schema pinhole` prints. The provider takes no",
        "configuration: each resource carries the connection to its node.",
        "",
    ];
    const types = new Map<string, PropSpec & { type: "object" }>();
    for (const r of resources) {
        out.push(`## ${r.token}`, "", r.description, "", "Inputs:", "", ...table(r.inputs, r.requiredInputs), "");
        const inputOnly = r.inputOnly ?? [];
        const besides = inputOnly.length
            ? `besides the inputs but ${inputOnly.map((k) => `\`${k}\``).join(", ")}, which the state keeps among its inputs only`
            : "besides the inputs";
        out.push(
            `Outputs (${besides}):`,
            "",
            ...table(
                r.outputs,
                Object.keys(r.outputs).filter((k) => !(r.optionalOutputs ?? []).includes(k)),
            ),
            "",
        );
        if (r.replaceOnChanges?.length)
            out.push(`A change of ${r.replaceOnChanges.map((k) => `\`${k}\``).join(", ")} replaces the resource.`, "");
        out.push("Import:", "", r.import, "");
        objectTypes(r.inputs, types);
        objectTypes(r.outputs, types);
    }
    out.push("## Types", "");
    for (const [token, t] of [...types].sort(([a], [b]) => a.localeCompare(b))) {
        out.push(`### ${token}`, "", t.description, "", ...table(t.properties, t.required), "");
    }
    return out.join("\n");
}
