// Package api serves Crier's HTTP API with Echo. Under /api/v1:
//
//   - /broadcasts: create, list, read and cancel broadcasts (admins, and
//     broadcasters for their own only); reschedule and schedule (admins).
//   - /me: a user's own inbox of active broadcasts with read receipts, and
//     their live event stream (Server-Sent Events), which a browser opens with
//     the token cookie or a single-use ticket, since EventSource cannot send
//     headers and the long-lived token must never go in a URL. Served when an
//     inbox is configured.
//   - /users: the user directory admins set or import, and beside it
//     /broadcasts/{id}/stats and /deliveries, who a broadcast reached
//     (admins). Broadcasters may read the directory to choose a target:
//     search /users, list /roles, POST /audience/count. Served when an
//     audience is configured.
//   - /audit: the audit log of changes made through the admin API (admins).
//     Served when an audit log is configured.
//   - /admin/presence: live stream connections, per node (admins). Served
//     when presence is configured.
//
// Beside it: /healthz, /readyz, /openapi.yaml and, when configured,
// /metrics. Every error is an RFC 9457 application/problem+json answer.
package api
