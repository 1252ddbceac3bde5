/**
 * sharp's wording for a bad value, the one spelling of every validation
 * message ("Expected integer between 1 and 4096 for width but received 'abc'").
 * Imports nothing and written for CloudFront Functions' runtime: the
 * viewer-request function bundles it with the parameter rules.
 */
export function expectedMessage(name: string, expected: string, received: string): string {
  const shown = received.length > 40 ? received.slice(0, 40) + '…' : received;
  return 'Expected ' + expected + ' for ' + name + " but received '" + shown + "'";
}
