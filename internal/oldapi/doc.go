// Package oldapi serves the old backend's (ggustin93/emg-c3d-analyzer,
// commit 6ec705a, FastAPI) health, configuration-defaults, scoring
// configuration and adherence routes with the old request and response
// shapes, so that its React frontend works against emgd unchanged.
// Register adds them to a mux; the typed request and response structs here
// are the contract.
//
// # Routes
//
//   - GET /health: {"status":"healthy","timestamp":<local time, Python
//     isoformat>}.
//   - GET /config/defaults: target_contractions_ch1, target_contractions_ch2
//     (12), mvc_threshold_percentage (75), therapeutic_duration_threshold_ms
//     (2000): emgd's own defaults, which are the old ones.
//   - GET /scoring/configurations: every configuration, newest first.
//   - POST /scoring/configurations: creates an inactive configuration; as
//     the old route, therapist_id and patient_id are accepted but not stored.
//   - GET /scoring/configurations/active: the newest active configuration;
//     404 "No active scoring configuration found".
//   - PUT /scoring/configurations/{id}/activate: activates it and
//     deactivates every other one except those named GHOSTLY-TRIAL-DEFAULT
//     (the old trial protection kept the default active); answers
//     {"message":"Configuration activated successfully","config_id":id};
//     404 "Scoring configuration not found".
//   - DELETE /scoring/configurations/{id}: {"message":"Configuration deleted
//     successfully"}; 400 "Cannot delete active scoring configuration"; 404
//     "Scoring configuration not found".
//   - GET /scoring/configurations/custom?therapist_id=&patient_id=: the
//     configuration of that therapist and patient, or of the therapist alone
//     (no patient); the whole old row (is_global, rpe_mapping,
//     target_defaults besides the response model); 400 "therapist_id is
//     required"; 404 "No custom configuration found".
//   - POST /scoring/configurations/custom: creates or replaces in place the
//     configuration of body.therapist_id and body.patient_id (inactive); 400
//     "therapist_id is required for custom configurations".
//   - PUT /scoring/configurations/default: sets the weights and description
//     (the old default text when none) of GHOSTLY-TRIAL-DEFAULT, id
//     a0000000-0000-0000-0000-000000000001, whatever configuration_name is
//     sent; keeps it active and global; recreates it if missing.
//   - GET /scoring/adherence/{patient_code}?sessions_completed=: see below.
//
// With accounts, what applies to every patient's scores is an admin's:
// POST /scoring/configurations (it stores no patient), activating any
// configuration (the one active scores every patient without their own),
// deleting one that names no patient and PUT /scoring/configurations/default
// answer a therapist 403 {"message":"admin only: ..."} before the body is
// read or anything is audited. A patient's configuration (custom, deleted,
// read) stays the business of users who may see that patient; another
// patient's answers 404 as an absent one (scope.go).
//
// Scoring configurations are stored in emgd's database (table
// scoring_configurations, migration 00003), which a fresh database creates
// holding GHOSTLY-TRIAL-DEFAULT with the old weights (compliance 0.50,
// symmetry 0.25, effort 0.25, game 0; completion 0.333, intensity 0.333,
// duration 0.334), active. A configuration answers id, configuration_name,
// description, the seven weight_* numbers, active, created_at and
// updated_at (ISO 8601 with "+00:00", as PostgREST wrote them), therapist_id
// and patient_id (null for global ones).
//
// # Request validation (422)
//
// The three write routes take the old ScoringConfigurationRequest and refuse
// it as pydantic 2 under FastAPI did, every error in field order, with
// {"detail":[{"type","loc","msg","input"[,"ctx"]}]}: configuration_name
// required, at most 100 characters; description at most 500; each weight a
// number (a numeric string or a boolean is accepted, as pydantic's lax mode)
// in [0, 1], defaulting to the old defaults; when weight_game is given and
// valid, compliance+symmetry+effort+game must be 1 ± 0.001 ("Value error,
// Main weights must sum to 1.0, got 1.3"); when weight_duration is given and
// valid, completion+intensity+duration likewise ("Compliance weights ...").
// An invalid earlier weight counts as 0 in the sum, an omitted one as its
// default, and an omitted weight_game or weight_duration skips the check, as
// the old validators did. An empty or null body is "missing" at ["body"],
// undecodable JSON "json_invalid" at ["body", offset], a non-object or
// non-JSON body "model_attributes_type". A non-integer sessions_completed is
// "int_parsing" at ["query", "sessions_completed"].
//
// # Errors
//
// The old application replaced FastAPI's {"detail": "..."} for its
// HTTPExceptions with {"error":"HTTP_ERROR","message":<detail>,
// "status_code":<code>,"path":<full request URL>}; these routes answer
// that. Validation errors keep FastAPI's 422 {"detail":[...]}; a method a
// path does not take is 405 {"detail":"Method Not Allowed"} with Allow.
//
// # Adherence
//
// The old definition: protocol day t = days since the treatment start + 1,
// within [1, 14]; before day 3 the answer is adherence_score null with
// "Minimum 3 days required for adherence calculation"; otherwise
// expected_sessions = 15/7 x t, adherence_score = min(100, completed /
// expected x 100), category Excellent (>= 85), Good (>= 70), Moderate (>=
// 50) or Poor, with the old interpretations; trial_duration 14 and
// total_sessions_planned 30 always. emgd has no patients table: a patient
// exists when it has sessions (else 404 "Patient not found: <code>"), its
// treatment starts on its first recording (recorded_at, else the time emgd
// received it), and completed_sessions, unless given as sessions_completed,
// counts its recordings (newest version of each object) from the last t
// days, today included. The old code counted every Ghostly_Emg_*.c3d file
// in the bucket whatever the patient, and took the start date from the
// patients table.
//
// # Deliberate differences
//
//   - Activating an unknown id changes nothing (the old route deactivated the
//     others before finding the id missing); a malformed id is 404, not the
//     old 500 from PostgreSQL's uuid parser.
//   - therapist_id and patient_id are text, not uuid: emgd's patients are
//     codes such as P001.
//   - A store failure answers 500 in the HTTP_ERROR shape with a generic
//     message, not the database's error text.
//   - Request bodies over MaxBody (1 MiB) are 413.
package oldapi
