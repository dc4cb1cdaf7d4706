'use strict';
/*
 * diff.js: differential check of freshd's RFC 9111 policy (src/policy.c,
 * through policy_driver) against the npm library http-cache-semantics,
 * constructed as a shared cache.
 *
 * It generates deterministic (seeded) cases: a request, the origin's
 * response, the times, and a later request; asks both implementations
 * whether the response is storable, its freshness lifetime and age, what
 * to do with the later request (serve / serve stale and revalidate in the
 * background / go to the origin), and whether a stale copy may be served on
 * a 500 (stale-if-error); and compares.
 *
 * A disagreement is explained by a known difference ("kind") when applying
 * that kind's transformation makes the two agree again. A transformation
 * either rewrites the case as http-cache-semantics sees it (e.g. drops the
 * Set-Cookie field that it alone refuses to cache) or sets an option of
 * either side. Up to five kinds may combine (a case can mix several
 * features); the transformations see the original case to decide. Kinds count only when
 * docs/policy.md lists them in its "Known differences" table; anything else
 * is a failure.
 *
 * Usage: node diff.js --driver PATH [--doc PATH]
 *        [--cases N] [--seed S] [--show KIND|CASE] [--verbose]
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const CachePolicy = require('http-cache-semantics');

/* ---- arguments ---- */

const opt = {
	driver: null,
	doc: path.join(__dirname, '..', '..', 'docs', 'policy.md'),
	cases: 4000,
	seed: 9111,
	show: null,
	verbose: false,
};
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	if (a === '--driver') opt.driver = process.argv[++i];
	else if (a === '--doc') opt.doc = process.argv[++i];
	else if (a === '--cases') opt.cases = parseInt(process.argv[++i], 10);
	else if (a === '--seed') opt.seed = parseInt(process.argv[++i], 10);
	else if (a === '--show') opt.show = process.argv[++i];
	else if (a === '--verbose') opt.verbose = true;
	else {
		console.error(`diff.js: unknown argument ${a}`);
		process.exit(2);
	}
}
if (!opt.driver) {
	console.error('diff.js: --driver PATH is required');
	process.exit(2);
}

/* ---- deterministic generator ---- */

function mulberry32(a) {
	return function () {
		a |= 0;
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const rand = mulberry32(opt.seed);
const chance = (p) => rand() < p;
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
function weighted(pairs) {
	const total = pairs.reduce((s, [w]) => s + w, 0);
	let r = rand() * total;
	for (const [w, v] of pairs) {
		if ((r -= w) < 0) return v;
	}
	return pairs[pairs.length - 1][1];
}

const httpDate = (sec) => new Date(sec * 1000).toUTCString();

const DELTAS = [0, 1, 10, 30, 60, 120, 300, 3600, 86400, 604800];
const BAD_DELTAS = ['abc', '-1', '"60"', '"300"'];
const delta = () => (chance(0.05) ? pick(BAD_DELTAS) : String(pick(DELTAS)));
const ELAPSED = [0, 1, 5, 9, 10, 11, 29, 30, 31, 59, 60, 61, 90, 100, 119,
	120, 121, 299, 300, 301, 600, 3599, 3600, 3601, 7200, 86399, 86400,
	86401, 100000, 700000];
const TARGETED = ['max-age=600', 'no-store', 'private', 'public',
	'max-age=60, must-revalidate', 's-maxage=30', 'max-age=10, stale-while-revalidate=60',
	'max-age=120;x=1', 'no-cache', 'Max-Age=60', 'max-age=60,', 'max-age=abc'];

function responseDirectives() {
	const d = [];
	if (chance(0.5)) d.push(`max-age=${delta()}`);
	if (chance(0.15)) d.push(`s-maxage=${delta()}`);
	if (chance(0.08)) d.push('no-cache');
	if (chance(0.05)) d.push('no-store');
	if (chance(0.05)) d.push('private');
	if (chance(0.15)) d.push('public');
	if (chance(0.08)) d.push('must-revalidate');
	if (chance(0.05)) d.push('proxy-revalidate');
	if (chance(0.05)) d.push('immutable');
	if (chance(0.12)) d.push(`stale-while-revalidate=${pick(DELTAS)}`);
	if (chance(0.1)) d.push(`stale-if-error=${pick(DELTAS)}`);
	if (chance(0.03)) d.push('no-cache="set-cookie"');
	if (chance(0.02)) d.push('private="set-cookie"');
	if (chance(0.02)) d.push('must-understand');
	if (chance(0.03)) d.push(`max-age=${pick(DELTAS)}`);	/* maybe a conflicting duplicate */
	if (chance(0.02) && d.length > 0) d[0] = d[0].toUpperCase();
	/* shuffle */
	for (let i = d.length - 1; i > 0; i--) {
		const j = Math.floor(rand() * (i + 1));
		[d[i], d[j]] = [d[j], d[i]];
	}
	return d;
}

function requestDirectives() {
	const pool = [
		() => 'no-cache', () => `max-age=${pick(DELTAS)}`, () => 'max-stale',
		() => `max-stale=${pick(DELTAS)}`, () => `min-fresh=${pick(DELTAS)}`,
		() => 'only-if-cached', () => 'no-store',
		() => `stale-if-error=${pick(DELTAS)}`,
	];
	const n = chance(0.7) ? 1 : 2;
	const d = [];
	for (let i = 0; i < n; i++) d.push(pick(pool)());
	return d;
}

function generate(id) {
	const respTime = 1700000000 + Math.floor(rand() * 1000000);
	const delay = weighted([[8, 0], [1, 1], [1, 3]]);
	const c = {
		id: `c${id}`,
		m1: weighted([[88, 'GET'], [6, 'HEAD'], [6, 'POST']]),
		q1: [['Host', 'example.com']],
		status: weighted([[50, 200], [3, 203], [3, 204], [3, 206], [4, 301],
			[4, 302], [2, 303], [2, 307], [3, 308], [6, 404], [2, 410],
			[2, 405], [2, 414], [2, 501], [4, 500], [3, 503], [2, 201],
			[1, 400], [1, 304]]),
		resp: [],
		reqTime: respTime - delay,
		respTime,
		m2: weighted([[95, 'GET'], [5, 'HEAD']]),
		q2: [['Host', 'example.com']],
		now: respTime + pick(ELAPSED),
	};
	const ae = chance(0.3) ? pick(['gzip', 'br, gzip']) : null;
	if (ae) {
		c.q1.push(['Accept-Encoding', ae]);
		c.q2.push(['Accept-Encoding', ae]);
	}
	if (chance(0.08)) c.q1.push(['Authorization', 'Basic dTpw']);
	if (chance(0.03)) c.q1.push(['Cache-Control', 'no-store']);

	/* Date: mostly the response time, sometimes older (apparent age). */
	let dateBase = respTime;
	const dateKind = weighted([[70, 'now'], [15, 'old'], [10, 'none'], [5, 'bad']]);
	if (dateKind === 'now') c.resp.push(['Date', httpDate(respTime)]);
	else if (dateKind === 'old') {
		dateBase = respTime - pick([1, 5, 30, 120]);
		c.resp.push(['Date', httpDate(dateBase)]);
	} else if (dateKind === 'bad') c.resp.push(['Date', 'garbage']);

	if (chance(0.8)) {
		const d = responseDirectives();
		if (d.length > 0) {
			if (d.length > 1 && chance(0.1)) {
				c.resp.push(['Cache-Control', d.slice(0, 1).join(', ')]);
				c.resp.push(['Cache-Control', d.slice(1).join(', ')]);
			} else {
				c.resp.push(['Cache-Control', d.join(', ')]);
			}
		}
	}
	const exp = weighted([[68, null], [25, 'rel'], [3, 'zero'], [2, 'bad'], [2, 'dup']]);
	if (exp === 'rel') c.resp.push(['Expires', httpDate(dateBase + pick([-100, 0, 30, 60, 600, 3600, 172800]))]);
	else if (exp === 'zero') c.resp.push(['Expires', '0']);
	else if (exp === 'bad') c.resp.push(['Expires', 'garbage']);
	else if (exp === 'dup') {
		c.resp.push(['Expires', httpDate(dateBase + 600)]);
		c.resp.push(['Expires', httpDate(dateBase + 60)]);
	}
	/* Multiples of 10 s keep the 10% heuristic whole. */
	if (chance(0.4)) c.resp.push(['Last-Modified', httpDate(dateBase - 10 * pick([1, 10, 100, 1000, 10000, 100000, 1000000]))]);
	if (chance(0.3)) c.resp.push(['ETag', '"abc"']);
	if (chance(0.2)) c.resp.push(['Age', chance(0.1) ? 'abc' : String(pick([0, 5, 30, 100, 1000]))]);
	if (chance(0.08)) c.resp.push(['Set-Cookie', 'sid=1']);
	const vary = weighted([[87, null], [10, 'Accept-Encoding'], [2, '*'], [1, 'Accept-Encoding, *']]);
	if (vary) c.resp.push(['Vary', vary]);
	if (chance(0.04)) c.resp.push(['Pragma', 'no-cache']);
	if (chance(0.06)) c.resp.push(['CDN-Cache-Control', pick(TARGETED)]);
	if (chance(0.02)) c.resp.push(['Freshd-Cache-Control', pick(['max-age=5', 'no-store'])]);

	if (chance(0.35)) c.q2.push(['Cache-Control', requestDirectives().join(', ')]);
	if (chance(0.05)) c.q2.push(['Pragma', 'no-cache']);
	return c;
}

/* ---- freshd, through the driver ---- */

function driverInput(cases) {
	const out = [];
	for (const c of cases) {
		out.push(`C ${c.id}`, `Q ${c.m1}`);
		for (const [n, v] of c.q1) out.push(`q ${n}: ${v}`);
		out.push(`S ${c.status}`);
		for (const [n, v] of c.resp) out.push(`s ${n}: ${v}`);
		out.push(`T ${c.reqTime} ${c.respTime}`, `R ${c.m2}`);
		for (const [n, v] of c.q2) out.push(`r ${n}: ${v}`);
		out.push(`N ${c.now}`, 'E');
	}
	return out.join('\n') + '\n';
}

const CLASS = {
	fresh: 'serve', 'stale-ok': 'serve-bg', revalidate: 'forward',
	miss: 'forward', pass: 'forward', 'gateway-timeout': 'forward',
};

function runDriver(cases, extraArgs) {
	const r = spawnSync(opt.driver, extraArgs, {
		input: driverInput(cases),
		maxBuffer: 256 * 1024 * 1024,
		encoding: 'utf8',
	});
	if (r.status !== 0) {
		console.error(`diff.js: driver failed (${r.status}): ${r.stderr}`);
		process.exit(2);
	}
	const res = new Map();
	for (const line of r.stdout.split('\n')) {
		if (!line) continue;
		const [id, ...kv] = line.split(' ');
		const o = {};
		for (const p of kv) {
			const eq = p.indexOf('=');
			o[p.slice(0, eq)] = p.slice(eq + 1);
		}
		res.set(id, {
			storable: o.storable === '1',
			why: o.why,
			lifetime: Number(o.lifetime),
			initial: Number(o.initial),
			age: Number(o.age),
			action: o.action,
			cls: CLASS[o.action],
			sie: o.sie === '1',
			source: o.source,
		});
	}
	if (res.size !== cases.length) {
		console.error(`diff.js: driver answered ${res.size} of ${cases.length} cases`);
		process.exit(2);
	}
	return res;
}

/* ---- http-cache-semantics ---- */

/* Node's http module keeps the first of these when repeated, joins others. */
const SINGLETONS = new Set(['age', 'authorization', 'content-length',
	'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
	'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
	'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

function nodeHeaders(pairs) {
	const h = {};
	for (const [n, v] of pairs) {
		const k = n.toLowerCase();
		if (k === 'set-cookie') (h[k] = h[k] || []).push(v);
		else if (k in h) {
			if (!SINGLETONS.has(k)) h[k] += `, ${v}`;
		} else h[k] = v;
	}
	return h;
}

function runHcs(c, options) {
	let clock = c.respTime * 1000;
	class Policy extends CachePolicy {
		now() {
			return clock;
		}
	}
	const p = new Policy({ method: c.m1, url: '/', headers: nodeHeaders(c.q1) },
		{ status: c.status, headers: nodeHeaders(c.resp) },
		Object.assign({ shared: true }, options));
	const storable = p.storable();
	clock = c.now * 1000;
	const ev = p.evaluateRequest({ method: c.m2, url: '/', headers: nodeHeaders(c.q2) });
	return {
		storable,
		lifetime: Math.max(0, Math.floor(p.maxAge())),
		age: Math.round(p.age()),
		cls: ev.response ? (ev.revalidation ? 'serve-bg' : 'serve') : 'forward',
		sie: p._useStaleIfError(),
	};
}

/* ---- comparison ---- */

function compare(fd, h) {
	if (fd.storable !== h.storable) return ['storable'];
	if (!fd.storable) return [];
	const d = [];
	if (fd.lifetime !== h.lifetime) d.push('lifetime');
	if (fd.age !== h.age) d.push('age');
	if (fd.cls !== h.cls) d.push('decision');
	if (fd.lifetime <= fd.age && fd.sie !== h.sie) d.push('stale-if-error');
	return d;
}

/* ---- case editing helpers for the kinds ---- */

const clone = (c) => JSON.parse(JSON.stringify(c));
const has = (pairs, name) => pairs.some(([n]) => n.toLowerCase() === name);
const del = (pairs, name) => {
	for (let i = pairs.length - 1; i >= 0; i--) if (pairs[i][0].toLowerCase() === name) pairs.splice(i, 1);
};
const values = (pairs, name) => pairs.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

/* Directive members of every Cache-Control line. */
function members(pairs, field) {
	return values(pairs, field).join(',').split(',').map((s) => s.trim()).filter(Boolean);
}
const dname = (m) => m.split('=')[0].trim().toLowerCase();
/* Directive names in any of the fields freshd may use (a superset). */
function anyDirective(c, name) {
	return ['cache-control', 'cdn-cache-control', 'freshd-cache-control']
		.some((f) => members(c.resp, f).some((m) => dname(m) === name));
}
/*
 * Rewrites the response's Cache-Control members with fn (member -> member
 * or null). An emptied field stays, empty: its presence matters (Pragma).
 */
function editCC(c, fn) {
	if (!has(c.resp, 'cache-control')) return;
	const ms = members(c.resp, 'cache-control').map(fn).filter((m) => m !== null);
	del(c.resp, 'cache-control');
	c.resp.push(['Cache-Control', ms.join(', ')]);
}
function editReqCC(c, fn) {
	const ms = members(c.q2, 'cache-control').map(fn).filter((m) => m !== null);
	del(c.q2, 'cache-control');
	if (ms.length > 0) c.q2.push(['Cache-Control', ms.join(', ')]);
}
const dropDirectives = (names) => (m) => (names.includes(dname(m)) ? null : m);
const qualified = (m) => /^(no-cache|private)\s*=/i.test(m);

/* Delta directives repeated with different values (RFC 9111 §4.2.1). */
function conflicting(c) {
	const seen = new Map(), bad = new Set();
	for (const m of members(c.resp, 'cache-control')) {
		const n = dname(m);
		if (!['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error'].includes(n)) continue;
		const v = m.slice(m.indexOf('=') + 1).replace(/"/g, '');
		if (seen.has(n) && seen.get(n) !== v) bad.add(n);
		seen.set(n, v);
	}
	return bad;
}

const HCS_UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);

/*
 * The known differences. Each id must appear in the "Known differences"
 * table of docs/policy.md. applies(case, freshd) says whether the kind can
 * be involved; hcs(case, freshd) rewrites the case as http-cache-semantics
 * sees it; options are passed to its constructor; variant selects the
 * freshd run without the heuristic cap.
 */
const KINDS = [
	{
		id: 'targeted-field',
		applies: (c, fd) => fd.source === 'cdn' || fd.source === 'targeted',
		hcs: (c, fd) => {
			const field = fd.source === 'cdn' ? 'cdn-cache-control' : 'freshd-cache-control';
			const v = members(c.resp, field).map((m) => m.split(';')[0]).join(', ');
			del(c.resp, 'cache-control');
			del(c.resp, 'expires');
			c.resp.push(['Cache-Control', v]);
		},
	},
	{
		id: 'set-cookie',
		applies: (c) => has(c.resp, 'set-cookie'),
		hcs: (c) => del(c.resp, 'set-cookie'),
	},
	{
		id: 'vary-star',
		applies: (c) => values(c.resp, 'vary').join(',').split(',').some((v) => v.trim() === '*'),
		hcs: (c) => c.resp.push(['Cache-Control', 'no-store']),
	},
	{
		id: 'status-codes',
		applies: (c) => !HCS_UNDERSTOOD.has(c.status) && c.status >= 200 && c.status <= 599 &&
			c.status !== 206 && c.status !== 304,
		hcs: (c) => { c.status = 200; },
	},
	{
		id: 'method-not-stored',
		applies: (c) => c.m1 === 'HEAD' || c.m1 === 'POST',
		hcs: (c) => { c.m1 = 'PUT'; },
	},
	{
		id: 'head-from-get',
		applies: (c) => c.m2 === 'HEAD',
		hcs: (c) => { c.m2 = 'GET'; },
	},
	{
		id: 'response-pragma',
		applies: (c) => has(c.resp, 'pragma') && !has(c.resp, 'cache-control'),
		hcs: (c) => del(c.resp, 'pragma'),
	},
	{
		id: 'request-pragma',
		applies: (c) => has(c.q2, 'pragma') && has(c.q2, 'cache-control'),
		hcs: (c) => del(c.q2, 'pragma'),
	},
	{
		id: 'directive-case',
		applies: (c) => members(c.resp, 'cache-control').some((m) => /[A-Z]/.test(m.split('=')[0])),
		hcs: (c) => editCC(c, (m) => {
			const eq = m.indexOf('=');
			return eq < 0 ? m.toLowerCase() : m.slice(0, eq).toLowerCase() + m.slice(eq);
		}),
	},
	{
		id: 'qualified-no-cache-private',
		applies: (c) => members(c.resp, 'cache-control').some(qualified),
		hcs: (c) => editCC(c, (m) => (qualified(m) ? null : m)),
	},
	{
		id: 'duplicate-directives',
		applies: (c) => conflicting(c).size > 0 || new Set(values(c.resp, 'expires')).size > 1,
		hcs: (c) => {
			const bad = conflicting(c);
			const done = new Set();
			editCC(c, (m) => {
				const n = dname(m);
				if (!bad.has(n)) return m;
				if (n === 'stale-while-revalidate' || n === 'stale-if-error' || done.has(n)) return null;
				done.add(n);
				return `${n}=0`;
			});
			if (new Set(values(c.resp, 'expires')).size > 1) {
				del(c.resp, 'expires');
				c.resp.push(['Expires', '0']);
			}
		},
	},
	{
		id: 'must-revalidate-fresh',
		applies: (c) => anyDirective(c, 'must-revalidate'),
		hcs: (c) => {
			editCC(c, dropDirectives(['must-revalidate']));
			del(c.q1, 'authorization');
		},
	},
	{
		id: 'proxy-revalidate-lifetime',
		applies: (c) => anyDirective(c, 'proxy-revalidate'),
		hcs: (c) => editCC(c, dropDirectives(['proxy-revalidate'])),
	},
	{
		id: 'no-stale',
		applies: (c) => ['no-cache', 'must-revalidate', 'proxy-revalidate', 's-maxage']
			.some((n) => anyDirective(c, n)),
		hcs: (c, fd, orig) => {
			editReqCC(c, dropDirectives(['max-stale']));
			if (['no-cache', 'must-revalidate', 'proxy-revalidate'].some((n) => anyDirective(orig, n)))
				editCC(c, dropDirectives(['stale-while-revalidate', 'stale-if-error']));
		},
	},
	{
		id: 'max-stale-boundary',
		applies: (c, fd) => members(c.q2, 'cache-control')
			.some((m) => dname(m) === 'max-stale' && Number(m.split('=')[1]) === fd.age - fd.lifetime),
		hcs: (c) => editReqCC(c, (m) => (dname(m) === 'max-stale' && m.includes('=')
			? `max-stale=${Number(m.split('=')[1]) + 1}` : m)),
	},
	{
		id: 'request-duplicates',
		applies: (c) => {
			const names = members(c.q2, 'cache-control').map(dname);
			return new Set(names).size !== names.length;
		},
		hcs: (c) => {
			const seen = new Set();
			editReqCC(c, (m) => (seen.has(dname(m)) ? null : (seen.add(dname(m)), m)));
		},
	},
	{
		id: 'request-stale-if-error',
		applies: (c) => members(c.q2, 'cache-control').some((m) => dname(m) === 'stale-if-error'),
		hcs: (c) => {
			const req = Math.max(...members(c.q2, 'cache-control')
				.filter((m) => dname(m) === 'stale-if-error').map((m) => Number(m.split('=')[1])));
			const resp = members(c.resp, 'cache-control').filter((m) => dname(m) === 'stale-if-error')
				.map((m) => Number(m.split('=')[1]));
			editCC(c, dropDirectives(['stale-if-error']));
			c.resp.push(['Cache-Control', `stale-if-error=${Math.max(req, ...resp)}`]);
		},
	},
	{
		id: 'must-understand',
		applies: (c) => anyDirective(c, 'must-understand'),
		hcs: (c) => { if (HCS_UNDERSTOOD.has(c.status)) editCC(c, dropDirectives(['no-store'])); },
	},
	{
		id: 'unreadable-age',
		applies: (c) => {
			const a = values(c.resp, 'age');
			return a.length > 1 || (a.length === 1 && !/^\d+(,\d+)*$/.test(a[0]));
		},
		hcs: (c) => {
			/* freshd's age is then 2^31 (the cap) at the later request. */
			del(c.resp, 'age');
			c.resp.push(['Age', String(2147483648 - (c.now - c.respTime))]);
		},
	},
	{
		id: 'apparent-age',
		applies: (c, fd) => {
			const a = values(c.resp, 'age')[0];
			const ageValue = a !== undefined && /^\d+$/.test(a.trim()) ? Number(a) : 0;
			return fd.initial !== ageValue;
		},
		hcs: (c, fd) => {
			del(c.resp, 'age');
			c.resp.push(['Age', String(fd.initial)]);
		},
	},
	{
		id: 'immutable-min-ttl',
		applies: (c) => anyDirective(c, 'immutable'),
		options: { immutableMinTimeToLive: 0 },
	},
	{
		id: 'heuristic-cap',
		applies: (c, fd, nocap) => nocap.lifetime !== fd.lifetime,
		variant: true,
	},
];

/* Smallest combination (up to MAX_COMBO) of applicable kinds that restores agreement. */
const MAX_COMBO = 5;
function explain(c, fd, nocap) {
	const cands = KINDS.filter((k) => k.applies(c, fd, nocap));
	const tryCombo = (combo) => {
		const cc = clone(c);
		const options = {};
		let side = fd;
		for (const k of combo) {
			if (k.hcs) k.hcs(cc, fd, c);
			if (k.options) Object.assign(options, k.options);
			if (k.variant) side = nocap;
		}
		return compare(side, runHcs(cc, options)).length === 0;
	};
	for (let size = 1; size <= Math.min(MAX_COMBO, cands.length); size++) {
		const idx = [];
		const rec = (start) => {
			if (idx.length === size) {
				const combo = idx.map((i) => cands[i]);
				return tryCombo(combo) ? combo.map((k) => k.id) : null;
			}
			for (let i = start; i < cands.length; i++) {
				idx.push(i);
				const r = rec(i + 1);
				idx.pop();
				if (r) return r;
			}
			return null;
		};
		const r = rec(0);
		if (r) return r;
	}
	return null;
}

/* Kind ids listed in the "Known differences" section of docs/policy.md. */
function documentedKinds(file) {
	const text = fs.readFileSync(file, 'utf8');
	const start = text.search(/^## Known differences/m);
	if (start < 0) return new Set();
	const rest = text.slice(start + 3);
	const end = rest.search(/^## /m);
	const section = end < 0 ? rest : rest.slice(0, end);
	const ids = new Set();
	for (const m of section.matchAll(/^\|\s*`([a-z0-9-]+)`/gm)) ids.add(m[1]);
	return ids;
}

function describe(c, fd, h) {
	const lines = [`  case ${c.id}: ${c.m1} -> ${c.status}, request_time ${c.reqTime}, ` +
		`response_time ${c.respTime}, then ${c.m2} at +${c.now - c.respTime}s`];
	for (const [n, v] of c.q1) lines.push(`    request:  ${n}: ${v}`);
	for (const [n, v] of c.resp) lines.push(`    response: ${n}: ${v}`);
	for (const [n, v] of c.q2) lines.push(`    later:    ${n}: ${v}`);
	lines.push(`    freshd: storable=${fd.storable}(${fd.why}) lifetime=${fd.lifetime} age=${fd.age} ` +
		`decision=${fd.cls}(${fd.action}) sie=${fd.sie} source=${fd.source}`);
	lines.push(`    h-c-s:  storable=${h.storable} lifetime=${h.lifetime} age=${h.age} ` +
		`decision=${h.cls} sie=${h.sie}`);
	return lines.join('\n');
}

/* ---- main ---- */

const cases = [];
for (let i = 0; i < opt.cases; i++) cases.push(generate(i));
const fdRes = runDriver(cases, []);
const fdNocap = runDriver(cases, ['--heuristic-max', '0']);
const documented = documentedKinds(opt.doc);

let agree = 0, bothStored = 0, failed = 0;
const classes = new Set();
const byKind = new Map(), byCombo = new Map(), unexplained = [], undocumented = new Map();
for (const c of cases) {
	const fd = fdRes.get(c.id);
	const h = runHcs(c, {});
	const diffs = compare(fd, h);
	if (fd.storable && h.storable) {
		bothStored++;
		classes.add(fd.cls);
	}
	if (diffs.length === 0) {
		agree++;
		continue;
	}
	const combo = explain(c, fd, fdNocap.get(c.id));
	if (!combo) {
		failed++;
		unexplained.push({ c, fd, h, diffs });
		continue;
	}
	const missing = combo.filter((k) => !documented.has(k));
	if (missing.length > 0) {
		failed++;
		for (const k of missing) undocumented.set(k, (undocumented.get(k) || 0) + 1);
		continue;
	}
	const key = `${combo.join(' + ')} [${diffs.join(', ')}]`;
	const seen = byCombo.get(key) || { n: 0, first: c.id };
	seen.n++;
	byCombo.set(key, seen);
	for (const k of combo) byKind.set(k, (byKind.get(k) || 0) + 1);
	if (opt.show && (combo.includes(opt.show) || c.id === opt.show)) console.log(describe(c, fd, h));
}

console.log(`http-cache-semantics ${require('http-cache-semantics/package.json').version}, ` +
	`seed ${opt.seed}, ${cases.length} cases`);
console.log(`  agree: ${agree}; explained by documented differences: ` +
	`${cases.length - agree - failed}; unexplained: ${failed}`);
console.log(`  both storable: ${bothStored}; decisions seen: ${[...classes].sort().join(', ')}`);
for (const [k, n] of [...byKind].sort()) console.log(`  kind ${k}: ${n}`);
if (opt.verbose)
	for (const [k, v] of [...byCombo].sort()) console.log(`    ${k}: ${v.n} (e.g. ${v.first})`);
for (const [k, n] of undocumented)
	console.log(`  UNDOCUMENTED kind ${k} (${n} cases): list it in ${opt.doc}`);
for (const k of documented)
	if (!KINDS.some((x) => x.id === k)) console.log(`  note: documented kind ${k} is not defined in diff.js`);
for (const u of unexplained.slice(0, 10))
	console.log(`  UNEXPLAINED [${u.diffs.join(', ')}]\n${describe(u.c, u.fd, u.h)}`);

/* A run that compares next to nothing proves nothing. */
if (bothStored < cases.length / 5 || classes.size < 3) {
	console.log(`  degenerate run: only ${bothStored} cases stored by both, ` +
		`decisions ${[...classes].join(', ')}`);
	failed++;
}
console.log(`differential: ${cases.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
