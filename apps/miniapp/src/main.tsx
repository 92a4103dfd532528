import { render } from 'solid-js/web'
import { App } from './App.tsx'
import { loadTelegram } from './telegram.ts'
import './styles.css'

const webApp = await loadTelegram()
webApp?.ready()
webApp?.expand()
render(() => <App webApp={webApp} />, document.getElementById('root')!)
