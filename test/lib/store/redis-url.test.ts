import t from 'tap'
import { isClusterUrl, parseClusterUrl } from '../../../src/lib/store/redis-url.ts'

t.test('a redis+cluster:// URL names its seed nodes, credentials and TLS', async (t) => {
  t.same(parseClusterUrl('redis+cluster://host1:7000,host2:7001'), {
    nodes: [{ host: 'host1', port: 7000 }, { host: 'host2', port: 7001 }], tls: false
  })
  t.same(parseClusterUrl('rediss+cluster://app:s%40cret@10.0.0.1,[::1]:7002/'), {
    nodes: [{ host: '10.0.0.1', port: 6379 }, { host: '::1', port: 7002 }], tls: true, username: 'app', password: 's@cret'
  })
  t.same(parseClusterUrl('redis+cluster://:secret@h:7000'), { nodes: [{ host: 'h', port: 7000 }], tls: false, password: 'secret' })
})

t.test('one Redis is not a cluster; a malformed node list is refused', async (t) => {
  t.equal(isClusterUrl('redis://127.0.0.1:6379'), false)
  t.equal(parseClusterUrl('redis://127.0.0.1:6379'), null)
  t.equal(isClusterUrl('redis+cluster://h:1'), true)
  for (const url of ['redis+cluster://', 'redis+cluster://h:1,,h:2', 'redis+cluster://h:99999', 'redis+cluster://h:1/0', 'redis+cluster://h:x']) {
    t.equal(parseClusterUrl(url), null, url)
  }
})
