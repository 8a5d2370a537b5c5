/** The app's pages, in navigation order; Ctrl/Cmd+1..5 jumps to each. */
export const routes = [
  { id: 'studio', label: 'Studio', hint: 'Canvas, prompt and generation' },
  { id: 'gallery', label: 'Gallery', hint: 'Every image with its recipe' },
  { id: 'models', label: 'Models', hint: 'Checkpoints, LoRAs and embeddings' },
  { id: 'queue', label: 'Queue', hint: 'Jobs waiting and running' },
  { id: 'settings', label: 'Settings', hint: 'Folders, hardware and defaults' },
] as const;

export type RouteId = (typeof routes)[number]['id'];

export function routeFromHash(hash: string): RouteId {
  const id = hash.replace(/^#\/?/, '');
  return routes.find((r) => r.id === id)?.id ?? 'studio';
}

/** The route `delta` places away in the navigation list, wrapping around. */
export function neighbourRoute(current: RouteId, delta: number): RouteId {
  const i = routes.findIndex((r) => r.id === current);
  const next = (i + delta + routes.length) % routes.length;
  return (routes[next] ?? routes[0]).id;
}
