// ESLint: typescript-eslint's recommended rules plus the type-aware rules that catch promises nobody awaits.
// Formatting is Prettier's job (npm run lint runs both).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", ".lab/", ".pulumi/", ".scratch/", ".pinhole/", "bench/", "test/fixtures/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-misused-promises": "error",
            "@typescript-eslint/await-thenable": "error",
            "@typescript-eslint/require-await": "off",
            // sanitisers match control characters on purpose
            "no-control-regex": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
        },
    },
    {
        // tests reach into untyped engine output and load modules fresh
        files: ["test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-require-imports": "off",
            // chai's expect(x).to.be.true, and expected output with its exact spacing
            "@typescript-eslint/no-unused-expressions": "off",
            "no-regex-spaces": "off",
        },
    },
    {
        files: ["**/*.js", "**/*.mjs"],
        extends: [tseslint.configs.disableTypeChecked],
        languageOptions: { globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly", __filename: "readonly", console: "readonly" } },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
