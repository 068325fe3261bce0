from formengine.cli import main

main()
