from aibeats.workers.server import main

main()
