/** The characters of a Bearer credential (RFC 6750 b64token): what the API accepts as a token. */
const CREDENTIAL = '[A-Za-z0-9._~+/-]+=*';

/** An Authorization header carrying a Bearer credential (scheme case-insensitive); group 1 is it. */
export const BEARER_HEADER = new RegExp(`^Bearer[ ]+(${CREDENTIAL})[ ]*$`, 'i');

/** A value that can be sent as a Bearer credential (e.g. ADMIN_API_TOKEN). */
export const BEARER_CREDENTIAL = new RegExp(`^${CREDENTIAL}$`);
