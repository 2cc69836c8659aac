import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'

export interface SecurityPluginOptions {
  /** Origins allowed to call the API from a browser (CORS_ORIGINS); empty allows any, without credentials. */
  corsOrigins: string[]
}

/** Headers a browser frontend on another origin may read: request ids and rate-limit state. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']
/** How long a browser may cache a preflight answer, seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600

/**
 * What a browser frontend needs: CORS for other origins and security headers.
 *
 * CORS follows WS_ALLOWED_ORIGINS: an allowlist of exact origins, or any origin when empty.
 * Credentials (cookies) are allowed only with an allowlist, never with the wildcard; the API
 * authenticates with a bearer header, so a frontend needs none.
 *
 * The Content-Security-Policy allows only same-origin scripts, styles (inline style attributes
 * too: the /docs UI sets them), connections (fetch and the WebSocket: CSP 3 `'self'` covers
 * ws/wss to the same host) and images (plus data: and https: avatars). No
 * upgrade-insecure-requests: development serves plain HTTP; HTTPS deployments terminate TLS
 * in front and send HSTS.
 */
export default fp<SecurityPluginOptions>(async function securityPlugin (fastify, opts) {
  const anyOrigin = opts.corsOrigins.length === 0
  await fastify.register(cors, {
    origin: anyOrigin ? '*' : opts.corsOrigins,
    credentials: !anyOrigin,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS
  })

  await fastify.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        connectSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https:'],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'self'"],
        upgradeInsecureRequests: null
      }
    }
  })
}, { name: 'security' })
