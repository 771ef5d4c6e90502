from cartpole.cli import main

main()
