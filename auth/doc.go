// Package auth signs staff in to AgentDesk: an OpenID Connect relying party
// (authorization-code flow with PKCE; state and nonce kept as a short-lived
// store record bound to the browser by a per-sign-in cookie, so no session
// exists before a sign-in succeeds), portal sessions over scs with a
// foreground-only idle timeout and server-side revocation (per session, per
// user, or by the IdP's back-channel logout), a same-origin return-to check,
// and an optional break-glass local administrator.
//
// AgentDesk talks to Enterprise Manager with an administrator account, so this
// package is the only gatekeeper: every check fails closed, and nothing that
// could replay a sign-in (authorization codes, state, nonces, tokens, session
// tokens) is ever logged or sent to the browser beyond what the protocol needs.
package auth
