import t from 'tap'
import { addressKey } from '../../src/lib/client-address.ts'

t.test('an IPv4 address is its own key', async (t) => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')
})

t.test('an IPv4-mapped IPv6 address is keyed as its IPv4 address', async (t) => {
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('::FFFF:192.0.2.7'), '192.0.2.7')
})

t.test('IPv6 addresses are keyed by their /64 network, however they are written', async (t) => {
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0DB8:0001:0002::1'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
})

t.test('anything else is kept as it is', async (t) => {
  t.equal(addressKey('not-an-address'), 'not-an-address')
})
