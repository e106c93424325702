/**
 * Networking printers of kube-apiserver v1.32 (printers.go): services, endpoints,
 * endpointslices, ingresses and networkpolicies.
 *
 * @module
 */

import {
  AGE_COLUMN,
  type Cell,
  col,
  NAME_COLUMN,
  type Obj,
  type Printer,
  wide,
} from "./columns.ts";
import { DOC } from "./descriptions.ts";
import {
  age,
  arr,
  formatLabels,
  formatLabelSelector,
  int,
  isObj,
  joinHostPort,
  listWithMoreString,
  nameOf,
  obj,
  objs,
  optInt,
  optStr,
  str,
} from "./format.ts";

/** loadBalancerWidth: non-wide load balancer addresses are clipped to 16 bytes. */
const LOAD_BALANCER_WIDTH = 16;

/**
 * loadBalancerStatusStringer (also ingressLoadBalancerStatusStringer): the distinct ingress
 * IPs (else hostnames), sorted and joined by ",". Server-side tables are generated wide, so
 * kube-apiserver never clips; `wide = false` clips like the client-side printer.
 */
export function loadBalancerStatus(status: unknown, wide = true): string {
  const result = new Set<string>();
  for (const ing of objs(obj(status).ingress)) {
    if (str(ing.ip) !== "") result.add(str(ing.ip));
    else if (str(ing.hostname) !== "") result.add(str(ing.hostname));
  }
  let r = [...result].sort((a, b) => a < b ? -1 : a > b ? 1 : 0).join(",");
  if (!wide && r.length > LOAD_BALANCER_WIDTH) r = r.slice(0, LOAD_BALANCER_WIDTH - 3) + "...";
  return r;
}

/** getServiceExternalIP. */
export function serviceExternalIP(svc: Obj, wide = true): string {
  const spec = obj(svc.spec);
  const externalIPs = arr(spec.externalIPs).map(str);
  switch (serviceType(spec)) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lbIps = loadBalancerStatus(obj(svc.status).loadBalancer, wide);
      if (externalIPs.length > 0) {
        const results: string[] = [];
        if (lbIps.length > 0) results.push(...lbIps.split(","));
        results.push(...externalIPs);
        return results.join(",");
      }
      return lbIps.length > 0 ? lbIps : "<pending>";
    }
    case "ExternalName":
      return str(spec.externalName);
  }
  return "<unknown>";
}

/** `spec.type`, defaulted to ClusterIP as kube-apiserver defaults stored services. */
function serviceType(spec: Obj): string {
  return spec.type === undefined || spec.type === "" ? "ClusterIP" : str(spec.type);
}

/** makePortString: `port[:nodePort]/protocol`, joined by "," (protocol defaults to TCP). */
export function servicePorts(ports: unknown): string {
  return objs(ports).map((p) => {
    const protocol = str(p.protocol) || "TCP";
    const nodePort = int(p.nodePort);
    return nodePort > 0 ? `${int(p.port)}:${nodePort}/${protocol}` : `${int(p.port)}/${protocol}`;
  }).join(",");
}

/** The first cluster IP (`spec.clusterIPs[0]`, defaulted from `spec.clusterIP`). */
function clusterIP(spec: Obj): string {
  const ips = arr(spec.clusterIPs).map(str);
  if (ips.length > 0) return ips[0];
  return str(spec.clusterIP) || "<none>";
}

/** services */
export const SERVICES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Type", "string", DOC["ServiceSpec.type"]),
    col("Cluster-IP", "string", DOC["ServiceSpec.clusterIP"]),
    col("External-IP", "string", DOC["ServiceSpec.externalIPs"]),
    col("Port(s)", "string", DOC["ServiceSpec.ports"]),
    AGE_COLUMN,
    wide("Selector", "string", DOC["ServiceSpec.selector"]),
  ],
  cells(svc: Obj, now: number): Cell[] {
    const spec = obj(svc.spec);
    return [
      nameOf(svc),
      serviceType(spec),
      clusterIP(spec),
      serviceExternalIP(svc),
      servicePorts(spec.ports) || "<none>",
      age(svc, now),
      formatLabels(spec.selector),
    ];
  },
};

/** formatEndpoints(endpoints, nil): up to 3 `ip:port`s, then ` + N more...`. */
export function formatEndpoints(endpoints: Obj): string {
  const subsets = objs(endpoints.subsets);
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses = objs(ss.addresses);
    const ports = objs(ss.ports);
    if (ports.length === 0) {
      // headless services with no ports
      count += addresses.length;
      for (const addr of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(str(addr.ip));
      }
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const addr of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(str(addr.ip), int(port.port)));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

/** endpoints */
export const ENDPOINTS: Printer = {
  columns: [NAME_COLUMN, col("Endpoints", "string", DOC["Endpoints.subsets"]), AGE_COLUMN],
  cells(ep: Obj, now: number): Cell[] {
    return [nameOf(ep), formatEndpoints(ep), age(ep, now)];
  },
};

/** formatDiscoveryPorts. */
function formatDiscoveryPorts(ports: unknown): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const port of objs(ports)) {
    if (list.length < max) {
      const n = optInt(port.port);
      const name = optStr(port.name);
      list.push(n !== undefined ? String(n) : name !== undefined ? name : "*");
    } else if (list.length === max) {
      more = true;
    }
    count++;
  }
  return listWithMoreString(list, more, count, max);
}

/** formatDiscoveryEndpoints. */
function formatDiscoveryEndpoints(endpoints: unknown): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const endpoint of objs(endpoints)) {
    for (const address of arr(endpoint.addresses)) {
      if (list.length < max) list.push(str(address));
      else if (list.length === max) more = true;
      count++;
    }
  }
  return listWithMoreString(list, more, count, max);
}

/** endpointslices.discovery.k8s.io */
export const ENDPOINT_SLICES: Printer = {
  columns: [
    NAME_COLUMN,
    col("AddressType", "string", DOC["B1EndpointSlice.addressType"]),
    col("Ports", "string", DOC["B1EndpointSlice.ports"]),
    col("Endpoints", "string", DOC["B1EndpointSlice.endpoints"]),
    AGE_COLUMN,
  ],
  cells(slice: Obj, now: number): Cell[] {
    return [
      nameOf(slice),
      str(slice.addressType),
      formatDiscoveryPorts(slice.ports),
      formatDiscoveryEndpoints(slice.endpoints),
      age(slice, now),
    ];
  },
};

/** formatHosts: up to 3 rule hosts, `*` when none. */
function formatHosts(rules: Obj[]): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  for (const rule of rules) {
    if (list.length === max) more = true;
    if (!more && str(rule.host) !== "") list.push(str(rule.host));
  }
  if (list.length === 0) return "*";
  const ret = list.join(",");
  return more ? `${ret} + ${rules.length - max} more...` : ret;
}

/** ingresses.networking.k8s.io */
export const INGRESSES: Printer = {
  columns: [
    NAME_COLUMN,
    col(
      "Class",
      "string",
      "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
      "Hosts",
      "string",
      "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
      "Address",
      "string",
      "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE_COLUMN,
  ],
  cells(ing: Obj, now: number): Cell[] {
    const spec = obj(ing.spec);
    return [
      nameOf(ing),
      optStr(spec.ingressClassName) ?? "<none>",
      formatHosts(objs(spec.rules)),
      loadBalancerStatus(obj(ing.status).loadBalancer),
      arr(spec.tls).length !== 0 ? "80, 443" : "80",
      age(ing, now),
    ];
  },
};

/** networkpolicies.networking.k8s.io */
export const NETWORK_POLICIES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Pod-Selector", "string", DOC["ExtNetworkPolicySpec.podSelector"]),
    AGE_COLUMN,
  ],
  cells(np: Obj, now: number): Cell[] {
    const spec = obj(np.spec);
    // spec.podSelector is a struct, never nil: absent reads as the empty selector
    const selector = isObj(spec.podSelector) ? spec.podSelector : {};
    return [nameOf(np), formatLabelSelector(selector), age(np, now)];
  },
};
