// Seed 000's Express app: its /status health-check API as the seed
// writes it, and a / that says which version answers.
const express = require('express')
const app = express()
const VERSION = '1'
app.get('/status', (req, res) => res.status(200).json({status: 'ok'}))
app.get('/', (req, res) => res.send(`expresso version ${VERSION}\n`))
app.listen(3000, () => console.log('Example app listening on port 3000!'))
