#!/usr/bin/env node
// Composes the supergraph offline with @theguild/federation-composition (no registry, no
// network): the subgraphs' published SDL files in, one supergraph SDL file out.
//
//   node compose.mjs SUBGRAPHS.json|- SUPERGRAPH.graphql
//
// SUBGRAPHS is a JSON list of {"name", "url", "sdl_path"}; "-" reads it from stdin. A relative
// sdl_path is read from the list file's folder (from the working folder for stdin), so a list
// checked in beside the SDL files works from anywhere.
// Exit status: 0 composed, 1 composition errors (one per line on stderr), 2 bad input.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

function fail(status, lines) {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(status);
}

// An error is one line so that a caller can split them without parsing.
function oneLine(error) {
  const code = error.extensions?.code;
  const text = String(error.message).replace(/\s+/g, ' ').trim();
  return code ? `${code}: ${text}` : text;
}

function readSubgraphs(source) {
  const text = source === '-' ? readFileSync(0, 'utf8') : readFileSync(source, 'utf8');
  const list = JSON.parse(text);
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error('the subgraph list must be a non-empty JSON array');
  }
  const base = source === '-' ? process.cwd() : dirname(resolve(source));
  return list.map((entry, index) => {
    for (const key of ['name', 'url', 'sdl_path']) {
      if (typeof entry?.[key] !== 'string' || entry[key] === '') {
        throw new Error(`subgraph ${index}: "${key}" must be a non-empty string`);
      }
    }
    return { ...entry, sdl_path: resolve(base, entry.sdl_path) };
  });
}

const [source, target] = process.argv.slice(2);
if (!source || !target) fail(2, ['usage: node compose.mjs SUBGRAPHS.json|- SUPERGRAPH.graphql']);

let subgraphs;
try {
  subgraphs = readSubgraphs(source);
} catch (error) {
  fail(2, [oneLine(error)]);
}

const services = [];
const syntaxErrors = [];
for (const { name, url, sdl_path: sdlPath } of subgraphs) {
  let sdl;
  try {
    sdl = readFileSync(sdlPath, 'utf8');
  } catch (error) {
    fail(2, [`${name}: ${oneLine(error)}`]);
  }
  try {
    services.push({ name, url, typeDefs: parse(sdl) });
  } catch (error) {
    syntaxErrors.push(`${name}: ${oneLine(error)}`);
  }
}
if (syntaxErrors.length > 0) fail(1, syntaxErrors);

const result = composeServices(services);
if (result.errors) fail(1, result.errors.map(oneLine));
writeFileSync(target, result.supergraphSdl.endsWith('\n') ? result.supergraphSdl : `${result.supergraphSdl}\n`);
