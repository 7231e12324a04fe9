/**
 * Every image a Kubernetes object would run: a Pod's containers, initContainers and ephemeralContainers, and
 * the same lists in the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers,
 * Jobs and CronJobs, and the OCI image volumes (`volumes[].image.reference`, Kubernetes' ImageVolume) of the
 * same pod specs, whose images the kubelet pulls as it pulls containers'. Each comes with its JSON pointer (for
 * the --mutate patch) and its container or volume name (for the per-container annotations). An object of
 * another kind has no images; a malformed one is an error.
 */

export interface PodImage {
  /** JSON pointer of the `image` field, e.g. /spec/template/spec/initContainers/0/image */
  pointer: string;
  container: string;
  image: string;
  list: 'containers' | 'initContainers' | 'ephemeralContainers' | 'volumes';
}

export interface PodSpecAt {
  pointer: string;
  spec: unknown;
  /** The annotations that apply: the pod template's (or the Pod's). */
  annotations: Record<string, string>;
}

const LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job']);

export class ObjectShapeError extends Error {}

function get(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[key] : undefined;
}

function annotationsOf(metadata: unknown): Record<string, string> {
  const a = get(metadata, 'annotations');
  if (typeof a !== 'object' || a === null) return {};
  return Object.fromEntries(Object.entries(a).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}

/** Where the pod spec of `object` of `kind` is. */
export function podSpecOf(kind: string, object: unknown): PodSpecAt | undefined {
  // The pods/ephemeralcontainers subresource before Kubernetes 1.22: the object holds the list itself.
  if (kind === 'EphemeralContainers') return { pointer: '', spec: object, annotations: annotationsOf(get(object, 'metadata')) };
  if (kind === 'Pod') return { pointer: '/spec', spec: get(object, 'spec'), annotations: annotationsOf(get(object, 'metadata')) };
  if (TEMPLATE_KINDS.has(kind)) {
    const template = get(get(object, 'spec'), 'template');
    return { pointer: '/spec/template/spec', spec: get(template, 'spec'), annotations: annotationsOf(get(template, 'metadata')) };
  }
  if (kind === 'CronJob') {
    const template = get(get(get(get(object, 'spec'), 'jobTemplate'), 'spec'), 'template');
    return { pointer: '/spec/jobTemplate/spec/template/spec', spec: get(template, 'spec'), annotations: annotationsOf(get(template, 'metadata')) };
  }
  return undefined;
}

/** At most this many containers are looked at; more is not a pod anyone runs, and is refused. */
const MAX_CONTAINERS = 256;

export function podImages(at: PodSpecAt): PodImage[] {
  if (typeof at.spec !== 'object' || at.spec === null || Array.isArray(at.spec)) throw new ObjectShapeError(`${at.pointer || '/'}: no pod spec`);
  const out: PodImage[] = [];
  for (const list of LISTS) {
    const items = get(at.spec, list);
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items)) throw new ObjectShapeError(`${at.pointer}/${list}: not a list`);
    if (out.length + items.length > MAX_CONTAINERS) throw new ObjectShapeError(`more than ${MAX_CONTAINERS} containers`);
    items.forEach((c, i) => {
      const image = get(c, 'image');
      const name = get(c, 'name');
      if (typeof image !== 'string' || image === '') throw new ObjectShapeError(`${at.pointer}/${list}/${i}: no image`);
      out.push({ pointer: `${at.pointer}/${list}/${i}/image`, container: typeof name === 'string' ? name : `${list}[${i}]`, image, list });
    });
  }
  const volumes = get(at.spec, 'volumes');
  if (volumes === undefined || volumes === null) return out;
  if (!Array.isArray(volumes)) throw new ObjectShapeError(`${at.pointer}/volumes: not a list`);
  volumes.forEach((v, i) => {
    const source = get(v, 'image');
    if (source === undefined || source === null) return;
    const reference = get(source, 'reference');
    if (typeof reference !== 'string' || reference === '') throw new ObjectShapeError(`${at.pointer}/volumes/${i}/image: no reference`);
    if (out.length >= MAX_CONTAINERS) throw new ObjectShapeError(`more than ${MAX_CONTAINERS} containers and image volumes`);
    const name = get(v, 'name');
    out.push({ pointer: `${at.pointer}/volumes/${i}/image/reference`, container: typeof name === 'string' ? name : `volumes[${i}]`, image: reference, list: 'volumes' });
  });
  return out;
}
