// Crier's REST API, as the console calls it: same origin, the session
// cookie, JSON in and out, problem+json errors kept whole so a form can show
// each field's message beside the field.

export type Status = "DRAFT" | "SCHEDULED" | "IN_PROGRESS" | "SENT" | "EXPIRED" | "CANCELLED" | "FAILED";
export type Priority = "LOW" | "NORMAL" | "HIGH" | "URGENT";
export type TargetType = "ALL" | "ROLE" | "SELECTED";

export interface Target { type: TargetType; ids?: string[] | null }

export interface Wave { at: string; zones: string[] }

export interface Broadcast {
  id: string;
  status: Status;
  sender: { id: string; name: string };
  title: string;
  content: string;
  category: string;
  priority: Priority;
  target: Target;
  scheduled_at: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
  expired_at: string | null;
  cancelled_at: string | null;
  failure_reason?: string;
  workflow_id: string;
  series_id?: string | null;
  occurrence_at?: string | null;
  local_time?: string;
  default_time_zone?: string;
  waves?: Wave[];
  waves_sent?: number;
}

export interface Page<T> { items: T[]; next_cursor?: string }

export interface FieldError { field: string; message: string }

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  request_id?: string;
  errors?: FieldError[];
  more_errors?: number;
  dependency?: string;
}

/** ApiError is a refused or failed call, with Crier's problem detail. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
}

/** Session is who is signed in, as GET /admin/session tells it. */
export interface Session {
  signed_in: boolean;
  subject?: string;
  name?: string;
  roles?: string[];
  admin?: boolean;
  expires_at?: string;
  /** Sign-in with the identity provider is configured. */
  oidc: boolean;
  /** Temporal Web UI's address, for links to workflows; "" when unknown. */
  temporal_ui: string;
  temporal_namespace: string;
  /** The statuses each action starts from (Crier's lifecycle, served so it is written once). */
  lifecycle: Record<string, Status[]>;
}

let onUnauthorized: () => void = () => {};
/** whenSignedOut sets what happens when the API says the session is gone. */
export function whenSignedOut(f: () => void): void { onUnauthorized = f; }

/** call sends one request; a non-2xx answer throws ApiError. */
export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, { type: "about:blank", title: "Network error", status: 0, detail: "Crier could not be reached: check the connection and try again." });
  }
  const text = await res.text();
  const data = text ? safeJSON(text) : undefined;
  if (!res.ok) {
    const p = (data as Problem | undefined) ?? { type: "about:blank", title: res.statusText, status: res.status, detail: text || res.statusText };
    if (res.status === 401 && !path.startsWith("/admin/session")) onUnauthorized();
    throw new ApiError(res.status, p);
  }
  return data as T;
}

function safeJSON(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}

/** query builds a query string from the non-empty values of params. */
export function query(params: Record<string, string | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) if (one) q.append(k, one);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
