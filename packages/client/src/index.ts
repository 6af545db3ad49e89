export {
  createPhoneAuthClient,
  createRawClient,
  type ListOptions,
  type PhoneAuthClient,
  type PhoneAuthClientOptions,
  type RawClient,
  type Tokens,
} from './create-client.js';
export {
  isPhoneAuthError,
  PhoneAuthError,
  type ClientErrorCode,
  type PhoneAuthErrorCode,
} from './errors.js';
export {
  createAccessTokenVerifier,
  type AccessTokenClaims,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
} from './verify-token.js';
export { AuditEventType, contract, ErrorCode, errorStatus } from '@phone-auth/contract';
export type * from '@phone-auth/contract';
