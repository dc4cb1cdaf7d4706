// Turns the JSON that the http-cache-tests client prints into one outcome
// class per test, counts them, and ratchets them against known-results.json.
//
// The classes come from the suite's own judgement, display.mjs's
// determineTestResult(), which applies each test's kind (required, optimal,
// check) and its depends_on list; this file only names what it returns and
// never re-implements the rules. Classes, ranked for the ratchet:
//   3  pass, yes, no          judged, and fine (yes/no answer a check test)
//   2  fail, optional-fail    judged, and failed (required / optimal test)
//   1  setup-fail, harness-fail, retry, dependency-fail   not judged
//   0  untested               no result at all
// A test regresses when its rank drops below the recorded one; a change
// within a rank (yes to no, setup-fail to dependency-fail) is reported, not
// failed. Results files after the first are reruns of some tests (and their
// dependencies, rerun.mjs), to tell a flaky test from a real regression:
// each test keeps its best outcome over the runs that have it, and tests
// whose outcome differed are listed as flaky.
//
// Usage: node summarize.mjs --known FILE [--update] [--verbose]
//        [--regressed OUT] RESULTS.json...
// Prints the counts, the regressions (id, was, now, the suite's reason), the
// improvements, with --verbose every test not passing and why, and last a line `N passed, M failed` where N counts judged
// tests that passed (pass, yes, no) and M counts regressions. With --update it
// rewrites FILE from these results. --regressed writes the ids of the tests
// that regressed to OUT, one a line. Exits 1 when a test regressed (and
// --update was not given), 2 on a usage or input error, 0 otherwise.

import fs from 'fs'
import { determineTestResult } from 'http-cache-tests/lib/display.mjs'
import suites from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

// The client adds the Surrogate-Control suite to the exported list (cli.mjs);
// so must we, or determineTestResult cannot find those tests.
if (!suites.includes(surrogate)) suites.push(surrogate)

// determineTestResult returns one of display.mjs's resultTypes rows; the third
// element is the text symbol that tells them apart.
const CLASS_BY_SYMBOL = {
  '✅': 'pass',
  '⛔️': 'fail',
  '⚠️': 'optional-fail',
  Y: 'yes',
  N: 'no',
  '🔹': 'setup-fail',
  '⁉️': 'harness-fail',
  '⚪️': 'dependency-fail',
  '↻': 'retry',
  '-': 'untested'
}
const RANK = {
  pass: 3,
  yes: 3,
  no: 3,
  fail: 2,
  'optional-fail': 2,
  'setup-fail': 1,
  'harness-fail': 1,
  retry: 1,
  'dependency-fail': 1,
  untested: 0
}

function usage (msg) {
  console.error(`summarize.mjs: ${msg}`)
  console.error('usage: node summarize.mjs --known FILE [--update] [--verbose] [--regressed OUT] RESULTS.json...')
  process.exit(2)
}

function readJson (file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (err) {
    usage(`${file}: ${err.message}`)
  }
}

function classify (id, results) {
  const row = determineTestResult(suites, id, results)
  const cls = CLASS_BY_SYMBOL[row[2]]
  if (cls === undefined) throw new Error(`unknown result symbol ${row[2]} for ${id}`)
  return cls
}

// The suite's reason for a test's outcome, as one line.
function reason (id, cls, results, classes) {
  const test = testById.get(id)
  if (cls === 'dependency-fail') {
    const bad = (test.depends_on || []).filter(dep => RANK[classes[dep]] !== 3)
    return `depends on ${bad.map(dep => `${dep} (${classes[dep]})`).join(', ')}`
  }
  const result = results[id]
  if (result === undefined) return 'no result'
  if (Array.isArray(result)) return `${result[0]}: ${result[1]}`.replace(/\s+/g, ' ')
  return ''
}

const args = process.argv.slice(2)
let knownFile
let update = false
let verbose = false
let regressedFile
const resultFiles = []
while (args.length) {
  const arg = args.shift()
  if (arg === '--known') knownFile = args.shift()
  else if (arg === '--update') update = true
  else if (arg === '--verbose') verbose = true
  else if (arg === '--regressed') regressedFile = args.shift()
  else if (arg.startsWith('--')) usage(`unknown option ${arg}`)
  else resultFiles.push(arg)
}
if (knownFile === undefined || resultFiles.length === 0) usage('missing arguments')

const testById = new Map()
for (const suite of suites) {
  for (const test of suite.tests) {
    if (test.browser_only === true) continue
    testById.set(test.id, test)
  }
}
const ids = [...testById.keys()].sort()

// Classify each run (the first has every test, a rerun only the tests it
// ran), then keep each test's best outcome.
const runs = resultFiles.map((file, n) => {
  const results = readJson(file)
  const classes = {}
  for (const id of ids) {
    if (n === 0 || results[id] !== undefined) classes[id] = classify(id, results)
  }
  return { results, classes }
})
const best = {}
const why = {}
const flaky = []
for (const id of ids) {
  const have = runs.filter(run => run.classes[id] !== undefined)
  let top = have[0]
  for (const run of have) {
    if (RANK[run.classes[id]] > RANK[top.classes[id]]) top = run
  }
  best[id] = top.classes[id]
  why[id] = reason(id, best[id], top.results, top.classes)
  if (have.some(run => run.classes[id] !== best[id])) {
    flaky.push(`${id}: ${have.map(run => run.classes[id]).join(' then ')}`)
  }
}

// Counts, in the shape of the peers' table in CONFORMANCE.md.
const count = {}
for (const cls of Object.keys(RANK)) count[cls] = 0
for (const id of ids) count[best[id]]++
let reqPassed = 0
let optPassed = 0
for (const id of ids) {
  if (best[id] !== 'pass') continue
  if (testById.get(id).kind === 'optimal') optPassed++
  else if (testById.get(id).kind !== 'check') reqPassed++
}
const optJudged = optPassed + count['optional-fail']
console.log(`conformance: ${ids.length} tests` +
  (runs.length > 1 ? `, regressions rerun one at a time` : ''))
console.log(`  required: ${reqPassed} passed / ${reqPassed + count.fail} judged`)
console.log(`  optimal:  ${optPassed} passed / ${optJudged} judged`)
console.log(`  check:    ${count.yes} yes, ${count.no} no`)
console.log(`  not judged: ${count['setup-fail']} setup-fail, ${count['dependency-fail']} dependency-fail, ` +
  `${count['harness-fail']} harness-fail, ${count.retry} retry, ${count.untested} untested`)

// The ratchet.
const known = fs.existsSync(knownFile) ? readJson(knownFile) : {}
const worse = []
const better = []
const changed = []
const added = []
for (const id of ids) {
  const was = known[id]
  const now = best[id]
  if (was === undefined) {
    added.push(id)
  } else if (RANK[was] === undefined) {
    usage(`${knownFile}: ${id}: unknown outcome class '${was}'`)
  } else if (RANK[now] < RANK[was]) {
    worse.push(id)
  } else if (RANK[now] > RANK[was]) {
    better.push(`  ${id}: was ${was}, now ${now}`)
  } else if (now !== was) {
    changed.push(`  ${id}: was ${was}, now ${now}` + (why[id] ? `: ${why[id]}` : ''))
  }
}
const gone = Object.keys(known).filter(id => !testById.has(id))

const failing = ids.filter(id => RANK[best[id]] < 3)
if (verbose && failing.length) {
  console.log(`not passing (${failing.length}):`)
  for (const id of failing) console.log(`  ${id}: ${best[id]}: ${why[id]}`)
}
if (flaky.length) {
  console.log(`flaky, outcome differed between runs (${flaky.length}):`)
  for (const line of flaky) console.log(`  ${line}`)
}
if (changed.length) console.log(`changed within the same rank (${changed.length}):\n${changed.join('\n')}`)
if (added.length) {
  console.log(`not in ${knownFile} yet (${added.length})` +
    (added.length <= 20 ? `: ${added.join(' ')}` : ''))
}
if (gone.length) console.log(`in ${knownFile} but not in the suite (${gone.length}): ${gone.join(' ')}`)
if (better.length) console.log(`IMPROVED (${better.length}):\n${better.join('\n')}`)
if (worse.length) {
  console.log(`REGRESSED (${worse.length}):`)
  for (const id of worse) console.log(`  ${id}: was ${known[id]}, now ${best[id]}: ${why[id]}`)
}

if (regressedFile !== undefined) {
  fs.writeFileSync(regressedFile, worse.map(id => id + '\n').join(''))
}

if (update) {
  fs.writeFileSync(knownFile, JSON.stringify(best, null, 2) + '\n')
  console.log(`${knownFile}: recorded ${ids.length} outcomes`)
} else if (better.length || added.length || gone.length) {
  console.log('record the new results with: tests/conformance/run BUILD_DIR --update')
}

console.log(`${count.pass + count.yes + count.no} passed, ${update ? 0 : worse.length} failed`)
process.exit(worse.length && !update ? 1 : 0)
