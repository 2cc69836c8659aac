import { WebSocketServer, type WebSocket } from 'ws'
import { createServer } from 'node:http'

/*
 * The machine's ceiling for fanout: `ws` broadcasting every frame, nothing else. A client that
 * sends `{"join":"<room>"}` joins a room, and a frame naming a `room` goes to that room's
 * clients only; any other frame goes to every client.
 */
const clients = new Set<WebSocket>()
const rooms = new Map<string, Set<WebSocket>>()
const http = createServer((_req, res) => { res.end('ok') })
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket) => {
  clients.add(socket)
  const joined: string[] = []
  socket.on('close', () => {
    clients.delete(socket)
    for (const room of joined) rooms.get(room)?.delete(socket)
  })
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { join?: string, room?: string }
    if (frame.join !== undefined) {
      let room = rooms.get(frame.join)
      if (room === undefined) rooms.set(frame.join, room = new Set())
      room.add(socket)
      joined.push(frame.join)
      return
    }
    for (const client of frame.room === undefined ? clients : rooms.get(frame.room) ?? []) client.send(data)
  })
})
http.listen(Number(process.env.PORT), '127.0.0.1')
