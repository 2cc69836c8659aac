import { WebSocketServer, type WebSocket } from 'ws'
import { createServer } from 'node:http'

// The machine's ceiling for fanout: `ws` broadcasting every frame to every client, nothing else.
const clients = new Set<WebSocket>()
const http = createServer((_req, res) => { res.end('ok') })
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket) => {
  clients.add(socket)
  socket.on('close', () => clients.delete(socket))
  socket.on('message', (data) => {
    for (const client of clients) client.send(data)
  })
})
http.listen(Number(process.env.PORT), '127.0.0.1')
