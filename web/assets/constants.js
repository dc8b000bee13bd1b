// What more than one module says alike, said once: the app's paths and where each role
// starts, the names of roles and of access-log actions, page sizes, the password rule,
// and the words for what has no name (erased, the system, no end date).

/** The app's paths: the router's table (app.js), the navigation, links and redirects. */
export const PATHS = {
  login: '/login',
  register: '/register',
  forgot: '/forgot',
  reset: '/reset',
  pending: '/pending',
  records: '/records',
  shared: '/shared',
  patients: '/patients',
  emergency: '/emergency',
  care: '/care',
  link: '/l',
  family: '/family',
  caring: '/caring',
  proxyAccept: '/proxy/accept',
  notifications: '/notifications',
  profile: '/profile',
  admin: '/admin',
  approvals: '/admin/approvals',
  users: '/admin/users',
  ledger: '/admin/ledger',
  compliance: '/admin/compliance',
  erasure: '/admin/erasure',
  emergencyReview: '/admin/emergency',
};

/** Where each role starts: after signing in, and at `/`. */
export const HOME = { PATIENT: PATHS.records, DOCTOR: PATHS.shared, ADMIN: PATHS.admin };

/** The API's roles, as people read them. */
export const ROLES = { PATIENT: 'Patient', DOCTOR: 'Doctor', ADMIN: 'Administrator' };

/** The access log's actions, as people read them (a record's log; the disclosures). */
export const ACCESS_ACTIONS = {
  UPLOADED: 'Uploaded', VIEWED: 'Viewed', DOWNLOADED: 'Downloaded', DENIED: 'Refused',
  SHARED: 'Shared', REVOKED: 'Revoked', EXPIRED: 'Expired', ERASED: 'Erased',
  EMERGENCY: 'Emergency read', REFERRED: 'Referred', LINK_OPENED: 'Link opened',
};

/** A referral's state, as people read it. */
export const REFERRAL_STATUS = { PENDING: 'Waiting for the patient', APPROVED: 'Approved', DECLINED: 'Declined' };

/** The most a list may ask for at once (`first`): the API refuses more. */
export const MAX_PAGE = 100;
/** A page of records: the patient's own, and those shared with a doctor. */
export const RECORDS_PAGE = 20;

/** The password rule, said before the server checks it. */
export const PASSWORD_MIN = 12;
export const PASSWORD_HINT = `At least ${PASSWORD_MIN} characters, hard to guess, without your name or e-mail in it.`;

/** In place of a name that erasure has made unreadable. */
export const ERASED_NAME = '(erased)';
/** Who did what no person did: MedChain itself. */
export const SYSTEM_ACTOR = 'MedChain';

/** Why a record is erased: said in clear on the ledger (it names no one); the free text
 * is sealed under the owner's key. API.graphql's ErasureBasis. */
export const ERASURE_BASES = [
  ['PATIENT_REQUEST', 'I no longer want it kept'],
  ['DUPLICATE', 'It is a duplicate'],
  ['WRONG_PATIENT', 'It is about someone else'],
  ['OTHER', 'Another reason'],
];
/** A share with no end date. */
export const UNTIL_REVOKED = 'Until revoked';
