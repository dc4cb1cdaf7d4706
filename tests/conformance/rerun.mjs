// Runs a few http-cache-tests tests again, one at a time, and prints their
// results as the suite's client does (one JSON object, test id → result).
//
// The suite's own client (cli.mjs) starts 100 tests at once, and some tests
// depend on timing (pauses of a few seconds, Age arithmetic), so a test can
// fail once under that load and pass on its own. tests/conformance/run calls
// this for the tests that did worse than known-results.json: a real
// regression fails here too, a flaky one does not. Each test's depends_on
// tests run with it, before it, so that the suite's judgement
// (determineTestResult) sees their outcome in the same run.
//
// Usage: node rerun.mjs BASE_URL TEST_ID...
// It uses the suite's runner (client/runner.mjs) with the same fetch as the
// client, with one test per batch instead of 100.

import fetch from 'node-fetch'
import { runTests, getResults } from 'http-cache-tests/client/runner.mjs'
import suites from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const [base, ...ids] = process.argv.slice(2)
if (base === undefined || ids.length === 0) {
  console.error('usage: node rerun.mjs BASE_URL TEST_ID...')
  process.exit(2)
}

if (!suites.includes(surrogate)) suites.push(surrogate)
const byId = new Map()
for (const suite of suites) {
  for (const test of suite.tests) byId.set(test.id, test)
}

// The tests to run, dependencies first, each once.
const order = []
const queued = new Set()
function add (id) {
  if (queued.has(id)) return
  const test = byId.get(id)
  if (test === undefined) {
    console.error(`rerun.mjs: no test ${id}`)
    process.exit(2)
  }
  queued.add(id)
  for (const dep of test.depends_on || []) add(dep)
  order.push(test)
}
for (const id of ids) add(id)

runTests([{ name: 'rerun', id: 'rerun', tests: order }], fetch, false, base, 1)
  .then(() => console.log(JSON.stringify(getResults(), null, 2)))
  .catch(err => {
    console.error(err)
    process.exit(2)
  })
