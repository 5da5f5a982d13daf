import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from './redact-url.js';

void test('replaces the password and keeps the rest', () => {
  assert.equal(
    redactUrl('postgres://parley:s3cret@db.example:5432/parley?sslmode=require'),
    'postgres://parley:***@db.example:5432/parley?sslmode=require',
  );
  assert.equal(
    redactUrl('postgres://parley@db.example/parley'),
    'postgres://parley@db.example/parley',
  );
  assert.equal(redactUrl('not a url s3cret'), '(unparseable URL)');
});
