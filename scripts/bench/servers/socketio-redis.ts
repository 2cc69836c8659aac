import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'

/*
 * The peer: Socket.IO with its Redis adapter, broadcasting (no persistence). Every socket is in
 * `room`; `join` adds it to another room, and a message naming a room goes to that room only.
 */
const http = createServer((_req, res) => { res.end('ok') })
const pub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const sub = pub.duplicate()
const io = new Server(http, { adapter: createAdapter(pub, sub, { key: 'bench-socketio' }) })
io.on('connection', (socket) => {
  void socket.join('room')
  socket.on('join', (room: string) => { void socket.join(room) })
  socket.on('message', (payload: string) => {
    const room = (JSON.parse(payload) as { room?: string }).room
    io.to(room ?? 'room').emit('message', payload)
  })
})
http.listen(Number(process.env.PORT), '127.0.0.1')
