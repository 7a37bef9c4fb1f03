// Roles, what each role does, and which roles each deployment model allows.

import { ClusterModel, DeploymentModelName, NodeSpec, Role } from "./types";

/** What a node of a role runs. unified = application + database; standalone = everything on one node. */
export interface RoleTraits {
    /** Runs the nginx front end that users and API clients reach (the reference's "proxy node"). */
    proxy: boolean;
    /** Runs the application (talks to UCM, CUXN, HCM-F, Webex, SSO, LDAP). */
    application: boolean;
    /** Holds a database member (may also run an arbiter). */
    database: boolean;
}

export const ROLE_TRAITS: Readonly<Record<Role, RoleTraits>> = {
    webproxy: { proxy: true, application: false, database: false },
    application: { proxy: false, application: true, database: false },
    database: { proxy: false, application: false, database: true },
    unified: { proxy: false, application: true, database: true },
    standalone: { proxy: true, application: true, database: true },
};

export const isProxy = (role: Role): boolean => ROLE_TRAITS[role].proxy;
export const runsApplication = (role: Role): boolean => ROLE_TRAITS[role].application;
export const holdsDatabase = (role: Role): boolean => ROLE_TRAITS[role].database;
/**
 * Roles that may run a database arbiter: the database-holding ones and application nodes (the tables open
 * 27030 both ways between application and database nodes). Web proxies never do.
 */
export const canRunArbiter = (role: Role): boolean => holdsDatabase(role) || role === "application";
export const ARBITER_ROLE_ERROR = (role: string): string =>
    `only database, unified, application (and standalone) nodes run a database arbiter; this node is ${role}`;
/** Nodes with a web front end (nginx) and so a web certificate: every role but database. */
export const servesWeb = (role: Role): boolean => role !== "database";

/** Nodes that do the reference's "proxy node" duties: web proxies, or application nodes when there are none. */
export function userFacingNodes(model: ClusterModel): NodeSpec[] {
    const proxies = model.nodes.filter((n) => isProxy(n.role));
    return proxies.length > 0 ? proxies : model.nodes.filter((n) => runsApplication(n.role));
}

/** The reference's "Service and Ports list" row(s) that describe a role. */
export const SERVICE_LIST_ROWS: Readonly<Record<Role, ("svc.webproxy" | "svc.application" | "svc.database")[]>> = {
    webproxy: ["svc.webproxy"],
    application: ["svc.application"],
    database: ["svc.database"],
    unified: ["svc.application", "svc.database"],
    standalone: ["svc.webproxy", "svc.application", "svc.database"],
};

export interface RoleCount {
    role: Role;
    min: number;
    /** undefined = no upper bound */
    max?: number;
}

export interface DeploymentModelRule {
    model: DeploymentModelName;
    description: string;
    /** Roles that may appear; any other role is an error. */
    allowed: Role[];
    /** Minimum/maximum per role. */
    counts: RoleCount[];
    /** Exact total number of nodes, when the model fixes it. */
    totalNodes?: number;
}

export const DEPLOYMENT_MODEL_RULES: Readonly<Record<DeploymentModelName, DeploymentModelRule>> = {
    standalone: {
        model: "standalone",
        description: "one node holding every role",
        allowed: ["standalone"],
        counts: [{ role: "standalone", min: 1, max: 1 }],
        totalNodes: 1,
    },
    unified: {
        model: "unified",
        description: "unified nodes (application + database), optionally fronted by web proxies",
        allowed: ["unified", "webproxy"],
        counts: [{ role: "unified", min: 1 }],
    },
    modular: {
        model: "modular",
        description: "separate application and database nodes, normally fronted by web proxies",
        allowed: ["application", "database", "webproxy"],
        counts: [
            { role: "application", min: 1 },
            { role: "database", min: 1 },
        ],
    },
};

/** A finding about the roles of a cluster; nodeIndex points at the node to blame, when there is one. */
export interface RoleFinding {
    nodeIndex?: number;
    /** Field of the node ("role", "arbiter") or undefined for the node list as a whole. */
    field?: string;
    message: string;
}

export interface RoleCheckInput {
    role: Role;
    arbiter: boolean;
    site: string;
}

/**
 * Which roles the model allows and how many; arbiters only on database-holding nodes.
 * Errors make the cluster impossible; warnings are legal but fragile (even voters, no proxy in modular).
 */
export function checkDeploymentModel(
    model: DeploymentModelName,
    nodes: readonly RoleCheckInput[],
): { errors: RoleFinding[]; warnings: RoleFinding[] } {
    const rule = DEPLOYMENT_MODEL_RULES[model];
    const errors = [...roleErrors(model, rule, nodes), ...countErrors(model, rule, nodes)];
    const warnings: RoleFinding[] = [];
    if (model === "modular" && !nodes.some((n) => n.role === "webproxy")) {
        warnings.push({
            message:
                "modular cluster without web proxies: client networks will reach the application nodes directly on 443",
        });
    }
    if (model !== "standalone") warnings.push(...voterWarnings(nodes));
    return { errors, warnings };
}

/** Each node's role allowed by the model, and an arbiter only where one can run. */
function roleErrors(model: DeploymentModelName, rule: DeploymentModelRule, nodes: readonly RoleCheckInput[]) {
    const errors: RoleFinding[] = [];
    nodes.forEach((n, i) => {
        if (!rule.allowed.includes(n.role)) {
            const hint = n.role === "standalone" ? " (standalone is its own model: pinhole:model: standalone)" : "";
            errors.push({
                nodeIndex: i,
                field: "role",
                message: `role "${n.role}" is not allowed in the ${model} model (allowed: ${rule.allowed.join(", ")})${hint}`,
            });
        }
        if (n.arbiter && !canRunArbiter(n.role)) {
            errors.push({ nodeIndex: i, field: "arbiter", message: ARBITER_ROLE_ERROR(n.role) });
        }
    });
    return errors;
}

/** How many nodes in all and of each role the model takes. */
function countErrors(model: DeploymentModelName, rule: DeploymentModelRule, nodes: readonly RoleCheckInput[]) {
    const errors: RoleFinding[] = [];
    if (rule.totalNodes !== undefined && nodes.length !== rule.totalNodes) {
        errors.push({
            message: `the ${model} model has exactly ${rule.totalNodes} node (${rule.description}); found ${nodes.length}`,
        });
    }
    for (const c of rule.counts) {
        const n = nodes.filter((x) => x.role === c.role).length;
        if (n < c.min)
            errors.push({
                message: `the ${model} model needs at least ${c.min} ${c.role} node${c.min > 1 ? "s" : ""}; found ${n}`,
            });
        if (c.max !== undefined && n > c.max && rule.totalNodes === undefined) {
            errors.push({ message: `the ${model} model allows at most ${c.max} ${c.role} node(s); found ${n}` });
        }
    }
    return errors;
}

/** Replica-set voters: every database member plus every arbiter. An even count can lose its majority in a split. */
function voterWarnings(nodes: readonly RoleCheckInput[]): RoleFinding[] {
    const warnings: RoleFinding[] = [];
    const members = nodes.filter((n) => holdsDatabase(n.role)).length;
    const arbiters = nodes.filter((n) => n.arbiter && canRunArbiter(n.role)).length;
    const voters = members + arbiters;
    if (voters >= 2 && voters % 2 === 0) {
        warnings.push({
            message: `${voters} database voters (${members} members + ${arbiters} arbiter${arbiters === 1 ? "" : "s"}): an even number can leave no majority after a network split; add or remove an arbiter`,
        });
    }
    if (arbiters > 1) {
        warnings.push({
            message: `${arbiters} arbiters: one arbiter is enough to break ties; more add votes without data`,
        });
    }
    const votes = (n: RoleCheckInput) => (holdsDatabase(n.role) ? 1 : 0) + (n.arbiter && canRunArbiter(n.role) ? 1 : 0);
    const sites = [...new Set(nodes.filter((n) => votes(n) > 0).map((n) => n.site))];
    if (sites.length === 2 && voters >= 2) {
        const perSite = sites.map((s) => nodes.filter((n) => n.site === s).reduce((k, n) => k + votes(n), 0));
        if (perSite[0] === perSite[1]) {
            warnings.push({
                message: `database voters are split evenly between sites ${sites[0]} and ${sites[1]} (${perSite[0]} each): losing either site loses the majority`,
            });
        }
    }
    return warnings;
}
