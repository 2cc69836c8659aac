/** Query parameters that carry credentials and never reach a log line. */
const SECRET_QUERY_PARAMS = /([?&](?:token|ticket|access_token|refreshToken)=)[^&#]*/gi

/** A URL as it may be logged: credential query values replaced. */
export function redactUrl (url: string): string {
  return url.replace(SECRET_QUERY_PARAMS, '$1[REDACTED]')
}
