-- The users view says whether a person has a second factor: every request's session
-- lookup reads it, so the MFA policy (MEDCHAIN_MFA_REQUIRED) costs no extra query.
-- Derived like the rest of the view (TotpEnrolled, TotpDisabled, MfaReset).
ALTER TABLE users ADD COLUMN second_factor boolean NOT NULL DEFAULT false;
