// Viewer-request CloudFront Function (runtime cloudfront-js-2.0) for image URLs.
// Runs on every request, cache hits included, so it is where signed URLs are
// checked (CONTRACT.md §5) and where the request is normalized so that one
// image variant has one cache key (§3):
//   - `Accept` becomes one value per negotiated format: `image/webp` or `*/*`;
//   - only the image parameters stay, in a fixed order, defaults dropped;
//   - `sig` and `exp` are checked, then dropped: they are not in the cache key.
// The local CDN runs this same file (src/local/viewer-function.ts). It cannot
// import anything of ours, so the signature format is pinned against
// src/core/signing.ts by test/edge/viewer-request.test.ts.
// `sls package` and the local CDN replace the token below with the stage's
// settings: {"signingSecret": string|null, "defaultQuality": number, ...}.
var CONFIG = __VIEWER_CONFIG__;

var crypto = require('crypto');

var PARAMS = ['width', 'height', 'quality', 'fit', 'format', 'dpr'];
var DEFAULTS = { quality: String(CONFIG.defaultQuality || 80), fit: 'cover', format: 'auto', dpr: '1' };

function handler(event) {
  var request = event.request;
  var query = request.querystring;
  // The playground (the default root object and its assets) is not an image.
  if (request.uri === '/' || request.uri.indexOf('/_playground/') === 0) return request;

  // A repeated image parameter is ambiguous; with signing on, any repeated one is (CONTRACT.md §5).
  for (var name in query) {
    var repeated = query[name].multiValue && query[name].multiValue.length > 1;
    if (repeated && (CONFIG.signingSecret || PARAMS.indexOf(name) !== -1)) {
      return error(400, 'invalid_param', 'Parameter ' + name + ' is given more than once');
    }
  }

  if (CONFIG.signingSecret) {
    var failure = checkSignature(request.uri, query, CONFIG.signingSecret, Math.floor(Date.now() / 1000));
    if (failure) return failure;
  }

  // Where to send the viewer back to if the derivative is too large to generate
  // (see origin-response): the path and query as received, `sig` and `exp` included.
  request.headers['x-resizer-location'] = { value: request.uri + queryAsReceived(query) };

  var kept = {};
  for (var i = 0; i < PARAMS.length; i++) {
    var param = query[PARAMS[i]];
    if (param && !isDefault(PARAMS[i], decode(param.value))) kept[PARAMS[i]] = { value: param.value };
  }
  request.querystring = kept;

  var accept = request.headers.accept ? request.headers.accept.value : '';
  request.headers.accept = { value: acceptsWebp(accept) ? 'image/webp' : '*/*' };
  return request;
}

// `dpr=1.0` and `quality=080` are the defaults too; an invalid spelling is kept for origin-request to refuse.
function isDefault(name, value) {
  if (name === 'dpr') return /^\d(\.\d{1,2})?$/.test(value) && Number(value) === 1;
  if (name === 'quality') return /^\d{1,9}$/.test(value) && Number(value) === Number(DEFAULTS.quality);
  return value === DEFAULTS[name];
}

function queryAsReceived(query) {
  var pairs = [];
  for (var name in query) pairs.push(name + '=' + query[name].value);
  return pairs.length ? '?' + pairs.join('&') : '';
}

// Same rule as acceptsWebp in src/core/params.ts: an image/webp range with q > 0.
function acceptsWebp(accept) {
  var ranges = accept.split(',');
  for (var i = 0; i < ranges.length; i++) {
    var parts = ranges[i].split(';');
    if (parts[0].trim().toLowerCase() !== 'image/webp') continue;
    var q = 1;
    for (var j = 1; j < parts.length; j++) {
      var option = parts[j].trim().toLowerCase();
      if (option.indexOf('q=') === 0) q = Number(option.slice(2));
    }
    if (q > 0) return true;
  }
  return false;
}

function checkSignature(uri, query, secret, now) {
  if (!query.sig || !query.exp) return error(403, 'invalid_signature', 'This URL is not signed');
  var exp = decode(query.exp.value);
  if (!/^\d+$/.test(exp)) return error(403, 'invalid_signature', 'This URL has a malformed expiry');
  var names = Object.keys(query)
    .filter(function (n) {
      return n !== 'sig';
    })
    .sort();
  var pairs = names.map(function (n) {
    return rfc3986(decode(n)) + '=' + rfc3986(decode(query[n].value));
  });
  var expected = crypto
    .createHmac('sha256', secret)
    .update(uri + '?' + pairs.join('&'))
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  if (!constantTimeEqual(expected, decode(query.sig.value))) {
    return error(403, 'invalid_signature', 'The URL signature does not match');
  }
  if (Number(exp) < now) return error(403, 'expired', 'This URL has expired');
  return null;
}

// Compares every character whatever the first difference, so timing tells nothing.
function constantTimeEqual(a, b) {
  var diff = a.length ^ b.length;
  for (var i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i % (b.length || 1));
  return diff === 0;
}

// Query values reach the function as they were sent; decode once, keep as is if malformed.
function decode(value) {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch (e) {
    return value;
  }
}

function rfc3986(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, function (c) {
    return '%' + c.charCodeAt(0).toString(16).toUpperCase();
  });
}

function error(status, code, message) {
  return {
    statusCode: status,
    statusDescription: status === 400 ? 'Bad Request' : 'Forbidden',
    headers: { 'content-type': { value: 'application/json' }, 'cache-control': { value: 'no-store' } },
    body: { encoding: 'text', data: JSON.stringify({ status: status, code: code, message: message }) },
  };
}
