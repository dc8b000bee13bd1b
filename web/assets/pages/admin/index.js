// The administrators' pages, one module each, for app.js to route to: the dashboard,
// approvals, users, the ledger, compliance, erasure (key epochs, certificates, legal
// holds), and the review of emergency accesses. None of them asks for medical content:
// the API refuses that to administrators.

export { dashboard } from './dashboard.js';
export { approvals } from './approvals.js';
export { users } from './users.js';
export { ledger } from './ledger.js';
export { compliance } from './compliance.js';
export { erasure } from './erasure.js';
export { emergency } from './emergency.js';
