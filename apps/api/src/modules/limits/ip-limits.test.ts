import { describe, expect, it } from 'vitest';
import { clientNetwork } from './ip-limits.js';

describe('clientNetwork', () => {
  it('counts an IPv4 address by itself, also when written as IPv4-mapped IPv6', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts IPv6 addresses by their /64, whatever their spelling', () => {
    const net = clientNetwork('2001:db8:85a3:12::1');
    expect(net).toBe('2001:db8:85a3:12::/64');
    for (const same of ['2001:db8:85a3:12:ffff:ffff:ffff:ffff', '2001:0DB8:85A3:0012:0:0:0:2', '2001:db8:85a3:12:a:b:c:d']) {
      expect(clientNetwork(same)).toBe(net);
    }
    expect(clientNetwork('2001:db8:85a3:13::1')).not.toBe(net);
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
  });

  it('leaves what is not an address as it is', () => {
    expect(clientNetwork('unknown')).toBe('unknown');
    expect(clientNetwork('not:an:address')).toBe('not:an:address');
  });
});
