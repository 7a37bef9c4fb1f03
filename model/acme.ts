// ACME HTTP-01 (certificates.mode acme): the CA fetches http://<fqdn>/.well-known/acme-challenge/<token> from every
// node in acme mode, so each of those nodes opens 80/tcp to the CA's validation addresses (certificates.acme.validationFrom).
import { ClusterModel, NodeSpec } from "./types";
import { servesWeb } from "./roles";
import { PORTS } from "./catalog";
import { FlowCollector, selfEnd } from "./flows";

/** Section of the openings that certificates.acme adds (not a row of the reference). */
export const ACME_SECTION = "Stack setting: pinhole:certificates.acme (HTTP-01 validation)";

/** The web-serving nodes whose certificate comes from the ACME CA (their own mode, else the stack's). */
export function acmeNodes(model: ClusterModel): NodeSpec[] {
    const c = model.certificates;
    return model.nodes.filter((n) => servesWeb(n.role) && (c.nodes[n.name]?.mode ?? c.mode) === "acme");
}

export function acmeFlows(model: ClusterModel, out: FlowCollector): void {
    const acme = model.certificates.acme;
    if (!acme) return;
    const host = new URL(acme.directoryUrl).host;
    for (const node of acmeNodes(model)) {
        out.add({
            from: { kind: "network", name: "acme-validation", addresses: [...acme.validationFrom] },
            to: selfEnd(node),
            protocol: "tcp",
            port: PORTS.http,
            service: "acme-http-01",
            why: `ACME HTTP-01 validation of this node's certificate by the CA of ${host} (certificates.mode acme)`,
            section: ACME_SECTION,
            exposed: false,
        });
    }
}
