'use strict';
// `pm serve [path] [port]`: pm2's static file server, run as an app. Configured as pm2's
// Serve.js is, by PM2_SERVE_* variables (or `path port host` arguments): SPA fallback, basic
// auth, a directory listing (`--ftp`), the served directory's 404.html. The daemon writes this
// file into the home, as it does the preload; ecosystem files name it `script: "serve"`.

const fs = require('fs');
const http = require('http');
const path = require('path');

const TYPES = {
  html: 'text/html', htm: 'text/html', css: 'text/css', js: 'application/javascript', mjs: 'application/javascript',
  json: 'application/json', map: 'application/json', txt: 'text/plain', xml: 'application/xml', svg: 'image/svg+xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', ico: 'image/x-icon',
  avif: 'image/avif', wasm: 'application/wasm', pdf: 'application/pdf', zip: 'application/zip', gz: 'application/x-gzip',
  mp3: 'audio/mpeg', mp4: 'video/mp4', webm: 'video/webm', woff: 'application/font-woff', woff2: 'application/font-woff',
  ttf: 'application/font-sfnt', otf: 'application/font-sfnt', csv: 'text/csv', md: 'text/markdown', yaml: 'text/yaml',
  yml: 'text/yaml',
};

const env = process.env;
const opts = {
  port: parseInt(env.PM2_SERVE_PORT || process.argv[3], 10) || 8080,
  host: env.PM2_SERVE_HOST || process.argv[4] || '0.0.0.0',
  root: path.resolve(env.PM2_SERVE_PATH || process.argv[2] || '.'),
  spa: env.PM2_SERVE_SPA === 'true',
  ftp: env.PM2_SERVE_FTP === 'true',
  homepage: env.PM2_SERVE_HOMEPAGE || '/index.html',
  auth:
    env.PM2_SERVE_BASIC_AUTH === 'true'
      ? { username: env.PM2_SERVE_BASIC_AUTH_USERNAME, password: env.PM2_SERVE_BASIC_AUTH_PASSWORD }
      : null,
};

const HEADERS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET' };

function authorized(req) {
  const h = req.headers.authorization || '';
  if (!h.startsWith('Basic ')) return false;
  const plain = Buffer.from(h.slice(6), 'base64').toString();
  const at = plain.indexOf(':');
  return plain.slice(0, at) === opts.auth.username && plain.slice(at + 1) === opts.auth.password;
}

function notFound(res) {
  fs.readFile(path.join(opts.root, '404.html'), (err, body) => {
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end(err ? '404 Not Found' : body);
  });
}

function send(file, urlPath, req, res) {
  const type = TYPES[path.extname(file).slice(1).toLowerCase()] || 'text/plain';
  fs.readFile(file, (err, body) => {
    if (!err) {
      res.writeHead(200, { 'Content-Type': type, ...HEADERS });
      return res.end(body);
    }
    if (err.code !== 'ENOENT' && err.code !== 'EISDIR') {
      res.writeHead(500);
      return res.end(`Sorry, check with the site admin for error: ${err.code} ..\n`);
    }
    // pm2's SPA rule: try the file's name at the root, then the homepage.
    if (opts.spa && !req.wantHomepage) {
      req.wantHomepage = true;
      return serve(`/${path.basename(urlPath)}`, req, res);
    }
    if (opts.spa && urlPath !== opts.homepage) return serve(opts.homepage, req, res);
    notFound(res);
  });
}

function listing(dir, urlPath, res) {
  fs.readdir(dir, { withFileTypes: true }, (err, entries) => {
    if (err) {
      res.writeHead(500);
      return res.end('Error reading directory');
    }
    const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const base = urlPath.endsWith('/') ? urlPath : `${urlPath}/`;
    const rows = entries
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => (a.isDirectory() === b.isDirectory() ? a.name.localeCompare(b.name) : a.isDirectory() ? -1 : 1))
      .map((e) => {
        const name = e.isDirectory() ? `${e.name}/` : e.name;
        return `<li><a href="${esc(encodeURIComponent(e.name) + (e.isDirectory() ? '/' : ''))}">${esc(name)}</a></li>`;
      });
    if (base !== '/') rows.unshift('<li><a href="../">../</a></li>');
    res.writeHead(200, { 'Content-Type': 'text/html', ...HEADERS });
    res.end(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Index of ${esc(base)}</title></head>` +
      `<body><h1>Index of ${esc(base)}</h1><ul>${rows.join('')}</ul></body></html>`);
  });
}

function serve(url, req, res) {
  let urlPath;
  try {
    urlPath = decodeURIComponent(new URL(url, 'http://localhost').pathname);
  } catch {
    res.writeHead(400);
    return res.end('400 Bad Request');
  }
  let file = path.resolve(opts.root + urlPath);
  const rel = path.relative(opts.root, file);
  if (rel !== '' && (rel.startsWith('..') || path.isAbsolute(rel))) {
    res.writeHead(403, { 'Content-Type': 'text/html' });
    return res.end('403 Forbidden');
  }
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory() && opts.ftp) {
      const index = path.join(file, 'index.html');
      return fs.access(index, fs.constants.R_OK, (e) => (e ? listing(file, urlPath, res) : send(index, urlPath, req, res)));
    }
    if (urlPath === '/' || urlPath === '') {
      urlPath = opts.homepage;
      req.wantHomepage = true;
      file = path.resolve(opts.root + urlPath);
    }
    send(file, urlPath, req, res);
  });
}

http
  .createServer((req, res) => {
    if (opts.auth && !authorized(req)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Authentication service"' });
      return res.end('401 Unauthorized');
    }
    serve(req.url, req, res);
  })
  .listen(opts.port, opts.host, () => {
    console.log('Exposing %s directory on %s:%d', opts.root, opts.host, opts.port);
  });
