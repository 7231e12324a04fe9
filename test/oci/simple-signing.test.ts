/**
 * The simple-signing payload of a cosign `.sig` signature is read one way only. Go's encoding/json (cosign,
 * policy-controller, Kyverno) matches member names case-insensitively and with Unicode folding, keeps the last of
 * duplicate members and ignores unknown ones; a reviewer signed one payload whose `docker-manifeſt-digest` (long s)
 * named image B for Go while this verifier, matching ASCII case only, verified it for image A. Every such payload is
 * now refused: names ASCII and known, each once, values of their types.
 */
import test from 'ava';
import { checkSimpleSigningPayload, LayoutError, simpleSigningPayload } from '../../client/oci/cosign-layout.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const TYPE = 'cosign container image signature';
const text = (s: string) => Buffer.from(s);

test('what cosign writes is read, and Go\'s case-insensitive spelling of the known names too', (t) => {
  t.deepEqual(checkSimpleSigningPayload(simpleSigningPayload('registry.example/app', A), A).critical.identity, { 'docker-reference': 'registry.example/app' });
  const spelled = text(`{"Critical":{"Identity":{"Docker-reference":"r"},"Image":{"Docker-manifest-digest":"${A}"},"Type":"${TYPE}"},"Optional":{"k":"v"}}`);
  t.deepEqual(checkSimpleSigningPayload(spelled, A).optional, { k: 'v' });
});

test('one payload naming two images, duplicates, unknown members and wrong types are refused', (t) => {
  const image = (inner: string) => text(`{"critical":{"identity":{"docker-reference":"r"},"image":{${inner}},"type":"${TYPE}"},"optional":null}`);
  const refused: [string, Buffer][] = [
    ['long s (Go folds it to s)', image(`"docker-manifest-digest":"${A}","docker-manifeſt-digest":"${B}"`)],
    ['Kelvin sign (Go folds it to k)', text(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"optional":null,"\u212Aey":1}`)],
    ['two spellings', image(`"docker-manifest-digest":"${A}","Docker-Manifest-Digest":"${B}"`)],
    ['an exact duplicate', image(`"docker-manifest-digest":"${A}","docker-manifest-digest":"${A}"`)],
    ['two critical objects', text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"critical":{"image":{"docker-manifest-digest":"${B}"},"type":"${TYPE}"}}`)],
    ['unknown member of critical.image', image(`"docker-manifest-digest":"${A}","x":1`)],
    ['unknown member of critical', text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}","extra":true}}`)],
    ['unknown top-level member', text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"signedBy":"x"}`)],
    ['optional as a string', text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"optional":"x"}`)],
    ['docker-reference as a number', text(`{"critical":{"identity":{"docker-reference":7},"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"}}`)],
    ['invalid UTF-8', Buffer.concat([text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"optional":{"k":"`), Buffer.of(0xff), text('"}}')])],
    ['a lone surrogate', text(`{"critical":{"image":{"docker-manifest-digest":"${A}"},"type":"${TYPE}"},"optional":{"k":"\\ud800"}}`)],
  ];
  for (const [what, payload] of refused) t.throws(() => checkSimpleSigningPayload(payload, A), { instanceOf: LayoutError }, what);
});
