import { initContract } from '@ts-rest/core';
import { authContract } from './auth.contract.js';
import { profileContract } from './profile.contract.js';
import { adminContract } from './admin.contract.js';
import { opsContract } from './ops.contract.js';

const c = initContract();

/** The whole Phone Auth API. */
export const contract = c.router({
  auth: authContract,
  profile: profileContract,
  admin: adminContract,
  ops: opsContract,
});
export type Contract = typeof contract;

export { authContract } from './auth.contract.js';
export { profileContract } from './profile.contract.js';
export { adminContract } from './admin.contract.js';
export { opsContract } from './ops.contract.js';
export * from './errors.js';
export * from './common-responses.js';
export * from './schemas/common.js';
export * from './schemas/auth.js';
export * from './schemas/profile.js';
export * from './schemas/admin.js';
export * from './schemas/ops.js';
