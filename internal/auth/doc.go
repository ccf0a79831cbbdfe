// Package auth decides who makes a request and what they may see: local
// accounts (argon2id passwords, cookie sessions stored in the database),
// API tokens, external identities (HS256 and OIDC JWTs) and the static
// --read-token; roles (admin, therapist with assigned patients); CSRF on
// cookie-authenticated changes; and the audit trail of every read of
// patient data and every change.
//
// The guard resolves a Principal and puts it, with an Auditor, in the
// request's context; handlers ask May(ctx, patient) and answer 404 when it
// is false, exactly as for an absent patient, and call Audit for every read
// of patient data and every change.
package auth
