// The global types tsc insists on even when it only emits (tsconfig.build.json: noLib, noCheck):
// declaring them here (empty: they merge harmlessly into the real ones where tsconfig.json type-checks)
// spares parsing ~10,000 lines of lib.*.d.ts on every incremental rebuild.
/* eslint-disable @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type -- empty on purpose, see above */
interface Array<T> {}
interface Boolean {}
interface CallableFunction {}
interface Function {}
interface IArguments {}
interface NewableFunction {}
interface Number {}
interface Object {}
interface RegExp {}
interface String {}
